/*
 * m68k-mcf5208evb.S - avocado-rr bare-metal guest for QEMU "-M mcf5208evb"
 * (Motorola/NXP ColdFire MCF5208, ISA_A+, CPU m5208).
 *
 * What it does (the shared avocado-rr bare-metal guest design):
 *   1. prints "avocado-rr bare-metal guest: mcf5208evb\n"
 *   2. starts a periodic ~1 kHz timer interrupt (PIT0, QEMU virtual clock)
 *      and enables interrupts
 *   3. main loop: iter += 1; acc = acc * 1664525 + 1013904223 (mod 2^32,
 *      acc starts at 0x12345678)
 *   4. timer ISR: acknowledges PIT0 (write-1-to-clear PIF), ticks += 1, rte
 *   5. whenever ticks has advanced by >= 8 since the last line, prints
 *      "tick TTTTTTTT iter IIIIIIII acc AAAAAAAA\n" (8 lowercase hex digits
 *      each; tick = ticks value read for this line, iter = loop iterations
 *      since the previous line, then iter = 0)
 *   6. after the line whose tick is >= 256 prints
 *      "avocado-rr bare-metal guest: done\n", stops PIT0, masks the source,
 *      raises the IPL to 7 and executes "stop #0x2700" forever
 *   7. every UART byte is sent after polling TxRDY
 *
 * Machine details (QEMU hw/m68k/mcf5208.c, hw/m68k/mcf_intc.c,
 * hw/char/mcf_uart.c):
 *   RAM      : 0x40000000 (128 MiB default); guest linked/loaded at 0x40000000
 *              (ELF loaded by -kernel, entry = _start from the ELF header).
 *              The vector table is the first 1 KiB of the image, VBR is set to
 *              0x40000000 (ColdFire VBR must be 1 MiB aligned; address 0 is ROM).
 *   UART0    : 0xfc060000 (serial_hd(0), i.e. the first -serial)
 *              +0x04 USR (read, bit 2 = TxRDY), +0x08 UCR (command),
 *              +0x0c UTB (transmit buffer).  UCR = 0x04 enables the
 *              transmitter (TxRDY is 0 after reset until this is done).
 *   Timer    : PIT0 at 0xfc080000: +0 PCSR (16 bit), +2 PMR (16 bit).
 *              Input clock SYS_FREQ/2 = 83.333 MHz; PRE=1 (/2) -> 41.667 MHz,
 *              PMR = 41666 -> ~1000 Hz.  PCSR = EN|RLD|PIF(w1c)|PIE|OVW|PRE.
 *   IRQ      : PIT0 = INTC0 source 4 -> vector 64+4 = 68 (offset 0x110).
 *              INTC0 at 0xfc048000: ICR04 (+0x44, byte) = 6 -> level 6,
 *              CIMR (+0x1d, byte) = 4 unmasks source 4, SIMR (+0x1c) masks.
 *
 * Build (see build.sh):
 *   m68k-linux-gnu-as -mcpu=5208 -o guest.o m68k-mcf5208evb.S
 *   m68k-linux-gnu-ld -N --no-warn-rwx-segments -Ttext=0x40000000 -e _start \
 *       -o guest.elf guest.o
 *   (-N: one LOAD segment starting exactly at 0x40000000; without it ld
 *   page-aligns the segment down to 0x3fffe000, below RAM)
 *
 * Run:
 *   qemu-system-m68k -M mcf5208evb -nodefaults -display none -serial stdio \
 *       -monitor none -no-reboot -kernel guest.elf -icount shift=7
 */

        .equ UART0,      0xfc060000
        .equ UART_USR,   0x04           /* status (read) */
        .equ UART_UCR,   0x08           /* command (write) */
        .equ UART_UTB,   0x0c           /* transmit buffer (write) */
        .equ USR_TXRDY,  2              /* bit number */

        .equ PIT0,       0xfc080000
        .equ PIT_PCSR,   0x00
        .equ PIT_PMR,    0x02
        .equ PCSR_EN,    0x0001
        .equ PCSR_RLD,   0x0002
        .equ PCSR_PIF,   0x0004
        .equ PCSR_PIE,   0x0008
        .equ PCSR_OVW,   0x0010
        .equ PCSR_PRE1,  0x0100         /* prescaler 2^1 */
        .equ PCSR_RUN,   PCSR_EN+PCSR_RLD+PCSR_PIE+PCSR_OVW+PCSR_PRE1  /* '|' is a comment char in m68k gas */
        .equ PIT_PMR_1KHZ, 41666        /* 166.67 MHz / 2 / 2 / 41666 ~ 1 kHz */

        .equ INTC0,      0xfc048000
        .equ INTC_SIMR,  0x1c
        .equ INTC_CIMR,  0x1d
        .equ INTC_ICR0,  0x40
        .equ PIT0_SRC,   4
        .equ PIT0_VEC,   64+PIT0_SRC
        .equ PIT0_LEVEL, 6

        .equ LCG_MUL,    1664525
        .equ LCG_ADD,    1013904223
        .equ ACC_INIT,   0x12345678

        .text
/* ------------------------------------------------------------------ */
/* Exception vector table at the load address (VBR target).           */
/* ------------------------------------------------------------------ */
        .globl vectors
vectors:
        .rept PIT0_VEC
        .long bad_exception
        .endr
        .long pit0_isr                  /* vector 68: PIT0 */
        .rept 256-PIT0_VEC-1
        .long bad_exception
        .endr

/* ------------------------------------------------------------------ */
        .globl _start
_start:
        move.w  #0x2700,%sr             /* supervisor, all interrupts masked */
        lea     stack_top,%sp
        lea     vectors,%a0
        move.l  %a0,%d0
        movec   %d0,%vbr

        clr.l   %d0
        move.l  %d0,ticks

        /* UART0: enable transmitter (receiver left disabled) */
        lea     UART0,%a2
        moveq   #0x04,%d0
        move.b  %d0,UART_UCR(%a2)

        lea     msg_start,%a1
        bsr     puts

        /* INTC0: PIT0 source -> level 6, unmask it */
        lea     INTC0,%a0
        moveq   #PIT0_LEVEL,%d0
        move.b  %d0,(INTC_ICR0+PIT0_SRC)(%a0)
        moveq   #PIT0_SRC,%d0
        move.b  %d0,INTC_CIMR(%a0)

        /* PIT0: ~1 kHz periodic, interrupt enabled */
        lea     PIT0,%a0
        move.l  #PIT_PMR_1KHZ,%d0
        move.w  %d0,PIT_PMR(%a0)
        move.l  #PCSR_RUN,%d0
        move.w  %d0,PIT_PCSR(%a0)

        /* main loop registers:
         *  d3 = ticks value of the last line, d4 = iter, d5 = acc,
         *  d6 = LCG multiplier, d7 = LCG increment, d2 = lines left */
        clr.l   %d3
        clr.l   %d4
        move.l  #ACC_INIT,%d5
        move.l  #LCG_MUL,%d6
        move.l  #LCG_ADD,%d7

        move.w  #0x2000,%sr             /* supervisor, IPL 0: enable irqs */

main_loop:
        addq.l  #1,%d4
        mulu.l  %d6,%d5
        add.l   %d7,%d5
        move.l  ticks,%d0
        move.l  %d0,%d1
        sub.l   %d3,%d1
        moveq   #8,%d2
        cmp.l   %d2,%d1
        bcs     main_loop               /* (ticks - last) < 8 (unsigned) */

        /* print "tick TTTTTTTT iter IIIIIIII acc AAAAAAAA\n" */
        move.l  %d0,%d3                 /* last = this line's tick value */
        lea     msg_tick,%a1
        bsr     puts
        move.l  %d3,%d0
        bsr     puthex
        lea     msg_iter,%a1
        bsr     puts
        move.l  %d4,%d0
        bsr     puthex
        lea     msg_acc,%a1
        bsr     puts
        move.l  %d5,%d0
        bsr     puthex
        moveq   #10,%d0
        bsr     putc
        clr.l   %d4                     /* iter = 0 */

        cmp.l   #256,%d3
        bcs     main_loop               /* tick < 256: keep going */

        lea     msg_done,%a1
        bsr     puts

halt:
        move.w  #0x2700,%sr             /* mask all interrupts */
        lea     PIT0,%a0
        clr.l   %d0
        move.w  %d0,PIT_PCSR(%a0)       /* stop PIT0, PIE=0 -> irq low */
        lea     INTC0,%a0
        moveq   #PIT0_SRC,%d0
        move.b  %d0,INTC_SIMR(%a0)      /* mask the source too */
1:      stop    #0x2700
        bra     1b

/* ------------------------------------------------------------------ */
/* PIT0 interrupt: acknowledge (PIF is write-1-to-clear), ticks += 1   */
/* ------------------------------------------------------------------ */
pit0_isr:
        move.l  %d0,-(%sp)
        move.l  %a0,-(%sp)
        lea     PIT0,%a0
        move.l  #PCSR_RUN+PCSR_PIF,%d0
        move.w  %d0,PIT_PCSR(%a0)
        addq.l  #1,ticks
        move.l  (%sp)+,%a0
        move.l  (%sp)+,%d0
        rte

/* any other exception: report and halt */
bad_exception:
        move.w  #0x2700,%sr
        lea     UART0,%a2
        lea     msg_bad,%a1
        bsr     puts
        bra     halt

/* ------------------------------------------------------------------ */
/* UART helpers.  a2 = UART0 base.                                     */
/* putc: d0.b = char (clobbers d1)                                     */
/* ------------------------------------------------------------------ */
putc:
1:      move.b  UART_USR(%a2),%d1
        btst    #USR_TXRDY,%d1
        beq     1b
        move.b  %d0,UART_UTB(%a2)
        rts

/* puts: a1 = NUL terminated string (clobbers d0, d1, a1) */
puts:
1:      move.b  (%a1)+,%d0
        beq     2f
        bsr     putc
        bra     1b
2:      rts

/* puthex: d0 = value, printed as 8 lowercase hex digits
 * (ColdFire has no rol, so shift the top nibble down each time)
 * clobbers d0, d1, a1 */
puthex:
        lea     -8(%sp),%sp             /* ColdFire movem: no -(An) mode */
        movem.l %d2-%d3,(%sp)
        move.l  %d0,%d2
        moveq   #7,%d3
1:      move.l  %d2,%d0
        moveq   #28,%d1
        lsr.l   %d1,%d0
        lea     hexdigits,%a1
        move.b  (%a1,%d0.l),%d0
        bsr     putc
        lsl.l   #4,%d2
        subq.l  #1,%d3
        bpl     1b
        movem.l (%sp),%d2-%d3
        addq.l  #8,%sp
        rts

/* ------------------------------------------------------------------ */
        .section .rodata
hexdigits:  .ascii "0123456789abcdef"
msg_start:  .asciz "avocado-rr bare-metal guest: mcf5208evb\n"
msg_tick:   .asciz "tick "
msg_iter:   .asciz " iter "
msg_acc:    .asciz " acc "
msg_done:   .asciz "avocado-rr bare-metal guest: done\n"
msg_bad:    .asciz "avocado-rr bare-metal guest: unexpected exception\n"

        .bss
        .balign 4
ticks:      .space 4
            .balign 16
stack:      .space 4096
stack_top:
