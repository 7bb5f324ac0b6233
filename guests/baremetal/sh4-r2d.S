/*
 * sh4-r2d.S - bare-metal record/replay test guest for QEMU "-M r2d"
 *             (Renesas R2D-PLUS board, SH7751R CPU, little endian).
 *
 * What it does (the shared avocado-rr bare-metal guest design):
 *   1. prints "avocado-rr bare-metal guest: r2d\n"
 *   2. programs TMU0 for a periodic ~1 kHz underflow interrupt (QEMU
 *      virtual clock) and enables interrupts
 *   3. main loop: iter += 1; acc = acc * 1664525 + 1013904223 (mod 2^32,
 *      acc starts at 0x12345678)
 *   4. timer ISR: clears TMU0 TCR.UNF, ticks += 1, rte
 *   5. whenever ticks has advanced by >= 8 since the last line, prints
 *      "tick TTTTTTTT iter IIIIIIII acc AAAAAAAA\n" (8 lowercase hex digits
 *      each; tick = the ticks value read, iter = loop iterations since the
 *      previous line, then iter = 0)
 *   6. after the line whose tick >= 256 (32 lines) prints
 *      "avocado-rr bare-metal guest: done\n", stops TMU0, masks interrupts
 *      (SR.BL=1, IMASK=15) and spins forever.
 *   7. every byte: poll SCFSR2.TDFE before writing SCFTDR2.
 *
 * Machine details (QEMU hw/sh4/r2d.c, hw/sh4/sh7750.c, hw/char/sh_serial.c,
 * hw/timer/sh_timer.c, hw/intc/sh_intc.c):
 *   - load: r2d's -kernel is loaded RAW (load_image_targphys, no ELF
 *     parsing) at phys 0x0c800000 (SDRAM 0x0c000000 + 0x800000) and the CPU
 *     starts at 0xac800000 (P2, uncached alias).  So the program is linked
 *     at 0xac800000 and the raw image guest.bin is what -kernel gets.
 *   - UART: SCIF (sh_serial, features=SCIF) at 0xffe80000 (P4):
 *       SCFTDR2 = 0xffe8000c (8-bit), SCFSR2 = 0xffe80010 (16-bit),
 *       TDFE = bit 5.  SCIF is QEMU's serial_hd(1) -> the SECOND -serial
 *       option: use "-serial null -serial stdio" (serial_hd(0) is the SCI).
 *   - timer: TMU channel 0 at 0xffd80000: TSTR 0xffd80004 (8-bit),
 *       TCOR0 0xffd80008, TCNT0 0xffd8000c (32-bit), TCR0 0xffd80010
 *       (16-bit; UNIE bit 5, UNF bit 8).  Peripheral clock 60 MHz,
 *       TPSC=0 -> 15 MHz, TCOR0 = 14999 -> 1000 Hz.
 *   - IRQ: TMU0 = INTEVT 0x400, enabled by a non-zero priority in
 *       IPRA[15:12] (0xffd00004, 16-bit); taken at VBR + 0x600.
 *   - The ISR runs with SR.RB=1 (register bank 1) while the main program
 *     runs with RB=0, so the ISR may clobber r0-r7 freely.
 *
 * Build (see build.sh):
 *   sh4-linux-gnu-as -o sh4-r2d.o sh4-r2d.S
 *   sh4-linux-gnu-ld -Ttext=0xac800000 -e _start -o guest.elf sh4-r2d.o
 *   sh4-linux-gnu-ld -Ttext=0xac800000 -e _start --oformat binary \
 *       -o guest.bin sh4-r2d.o
 * Run:
 *   qemu-system-sh4 -M r2d -nodefaults -display none -serial null \
 *       -serial stdio -monitor none -no-reboot -kernel guest.bin \
 *       -icount shift=7
 */

        .equ SCIF_SCFTDR2, 0xffe8000c
        .equ SCIF_SCFSR2,  0xffe80010
        .equ TMU_TSTR,     0xffd80004
        .equ TMU_TCOR0,    0xffd80008
        .equ TMU_TCNT0,    0xffd8000c
        .equ TMU_TCR0,     0xffd80010
        .equ INTC_IPRA,    0xffd00004
        .equ TMU_RELOAD,   14999          /* 15 MHz / 15000 = 1 kHz */
        .equ TCR_UNIE,     0x0020         /* UNIE=1, TPSC=0 (Pphi/4), UNF=0 */
        .equ SR_SETUP,     0x500000f0     /* MD=1 RB=0 BL=1 IMASK=15 */
        .equ SR_RUN,       0x40000000     /* MD=1 RB=0 BL=0 IMASK=0 */

        .text
        .global _start
/* ---- 0xac800000: entry point, also the VBR base ---------------------- */
vbr_base:
_start:
        bra     init
        nop

/* ---- VBR + 0x100: general exceptions: hang --------------------------- */
        .org    0x100
exc_general:
        bra     exc_general
        nop

/* ---- VBR + 0x400: TLB miss (MMU is off): hang ------------------------ */
        .org    0x400
exc_tlb:
        bra     exc_tlb
        nop

/* ---- VBR + 0x600: interrupts (only TMU0 is enabled) ------------------ */
        .org    0x600
irq_entry:
        mov.l   .L_tcr0_isr, r0
        mov     #TCR_UNIE, r1
        mov.w   r1, @r0                 /* UNF=0: acknowledge underflow */
        mov.l   .L_ticks_isr, r0
        mov.l   @r0, r1
        add     #1, r1
        mov.l   r1, @r0                 /* ticks++ */
        rte
        nop
        .align  2
.L_tcr0_isr:    .long TMU_TCR0
.L_ticks_isr:   .long ticks

/* ---- initialisation --------------------------------------------------- */
init:
        mov.l   .L_sr_setup, r0
        ldc     r0, sr                  /* bank 0, interrupts blocked */
        mov.l   .L_stack, r15
        mov.l   .L_vbr, r0
        ldc     r0, vbr

        mov.l   .L_msg_start, r4
        bsr     puts
        nop

        /* ticks = 0 */
        mov.l   .L_ticks, r13
        mov     #0, r0
        mov.l   r0, @r13

        /* TMU0: stop, reload 14999, Pphi/4, underflow interrupt enabled */
        mov.l   .L_tstr, r1
        mov     #0, r0
        mov.b   r0, @r1
        mov.l   .L_reload, r0
        mov.l   .L_tcor0, r2
        mov.l   r0, @r2
        mov.l   .L_tcnt0, r2
        mov.l   r0, @r2
        mov.l   .L_tcr0, r2
        mov     #TCR_UNIE, r0
        mov.w   r0, @r2
        /* INTC: TMU0 priority 8 (IPRA[15:12]) */
        mov.l   .L_ipra, r2
        mov.l   .L_ipra_val, r0
        mov.w   r0, @r2
        /* start TMU0 */
        mov     #1, r0
        mov.b   r0, @r1

        /* main-loop state */
        mov     #0, r8                  /* iter */
        mov.l   .L_acc0, r9             /* acc */
        mov     #0, r10                 /* ticks at last line */
        mov.l   .L_mul, r11
        mov.l   .L_add, r12

        /* enable interrupts */
        mov.l   .L_sr_run, r0
        ldc     r0, sr

/* ---- main loop -------------------------------------------------------- */
loop:
        add     #1, r8                  /* iter++ */
        mul.l   r11, r9
        sts     macl, r9
        add     r12, r9                 /* acc = acc*1664525 + 1013904223 */
        mov.l   @r13, r0                /* t = ticks */
        mov     r0, r1
        sub     r10, r1
        mov     #8, r2
        cmp/hs  r2, r1                  /* t - last >= 8 ? */
        bf      loop

        mov     r0, r10                 /* last = t */
        mov.l   .L_msg_tick, r4
        bsr     puts
        nop
        bsr     puthex
        mov     r10, r4
        mov.l   .L_msg_iter, r4
        bsr     puts
        nop
        bsr     puthex
        mov     r8, r4
        mov.l   .L_msg_acc, r4
        bsr     puts
        nop
        bsr     puthex
        mov     r9, r4
        bsr     putc
        mov     #10, r4
        mov     #0, r8                  /* iter = 0 */

        mov     #1, r1
        shll8   r1                      /* 256 */
        cmp/hs  r1, r10
        bf      loop

        /* done */
        mov.l   .L_msg_done, r4
        bsr     puts
        nop
        mov.l   .L_sr_setup, r0
        ldc     r0, sr                  /* mask interrupts */
        mov.l   .L_tstr, r1
        mov     #0, r0
        mov.b   r0, @r1                 /* stop TMU0 */
        mov.l   .L_ipra, r2
        mov.w   r0, @r2                 /* TMU0 priority 0 = disabled */
halt:
        bra     halt
        nop

        .align  2
.L_sr_setup:    .long SR_SETUP
.L_sr_run:      .long SR_RUN
.L_stack:       .long stack_top
.L_vbr:         .long vbr_base
.L_ticks:       .long ticks
.L_tstr:        .long TMU_TSTR
.L_tcor0:       .long TMU_TCOR0
.L_tcnt0:       .long TMU_TCNT0
.L_tcr0:        .long TMU_TCR0
.L_reload:      .long TMU_RELOAD
.L_ipra:        .long INTC_IPRA
.L_ipra_val:    .long 0x8000
.L_acc0:        .long 0x12345678
.L_mul:         .long 1664525
.L_add:         .long 1013904223
.L_msg_start:   .long msg_start
.L_msg_tick:    .long msg_tick
.L_msg_iter:    .long msg_iter
.L_msg_acc:     .long msg_acc
.L_msg_done:    .long msg_done

/* ---- putc(r4): wait for TDFE, write byte, clear TDFE/TEND ----------- */
/* clobbers r0-r2 */
putc:
        mov.l   .L_scfsr, r1
1:      mov.w   @r1, r0
        tst     #0x20, r0               /* TDFE */
        bt      1b
        mov.l   .L_scftdr, r2
        mov.b   r4, @r2
        mov.w   @r1, r0
        and     #0x9f, r0               /* clear TEND and TDFE */
        mov.w   r0, @r1
        rts
        nop

/* ---- puts(r4 = NUL-terminated string); clobbers r0-r5 --------------- */
puts:
        sts.l   pr, @-r15
        mov     r4, r5
1:      mov.b   @r5+, r4
        tst     r4, r4
        bt      2f
        bsr     putc
        nop
        bra     1b
        nop
2:      lds.l   @r15+, pr
        rts
        nop

/* ---- puthex(r4): 8 lowercase hex digits; clobbers r0-r6 ------------- */
puthex:
        sts.l   pr, @-r15
        mov     r4, r5
        mov     #8, r6
1:      mov     r5, r4
        mov     #-28, r0
        shld    r0, r4                  /* r4 = top nibble */
        mov     #10, r0
        cmp/hs  r0, r4
        bf      2f
        add     #('a' - '0' - 10), r4
2:      add     #'0', r4
        bsr     putc
        nop
        shll2   r5
        shll2   r5
        dt      r6
        bf      1b
        lds.l   @r15+, pr
        rts
        nop

        .align  2
.L_scfsr:       .long SCIF_SCFSR2
.L_scftdr:      .long SCIF_SCFTDR2

msg_start:      .asciz "avocado-rr bare-metal guest: r2d\n"
msg_tick:       .asciz "tick "
msg_iter:       .asciz " iter "
msg_acc:        .asciz " acc "
msg_done:       .asciz "avocado-rr bare-metal guest: done\n"

/* ---- data (inside the raw image, so it is loaded with it) ------------ */
        .align  4
ticks:          .long 0
        .align  4
stack:          .space 256
stack_top:
