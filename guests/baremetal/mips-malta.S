/*
 * mips-malta.S - bare-metal record/replay test guest for QEMU "malta"
 *                (qemu-system-mips, big-endian MIPS32, default CPU 24Kf)
 *
 * What it does (the shared avocado-rr bare-metal guest design):
 *   1. prints "avocado-rr bare-metal guest: malta\n"
 *   2. starts a periodic ~1 kHz CP0 Count/Compare timer interrupt and
 *      enables it (Status.IM7 | Status.IE)
 *   3. main loop: iter += 1; acc = acc * 1664525 + 1013904223 (mod 2^32,
 *      acc starts at 0x12345678, uses mul)
 *   4. general exception handler (vector 0x80000180): acknowledge
 *      (Compare = Count + period, which clears Cause.TI/IP7), ticks += 1,
 *      eret; it uses only k0/k1, so nothing else needs saving
 *   5. whenever ticks has advanced by >= 8 since the last line, the main loop
 *      prints "tick TTTTTTTT iter IIIIIIII acc AAAAAAAA\n" (8 lowercase hex
 *      digits each; tick = ticks value read, iter = iterations since the
 *      previous line, then iter = 0)
 *   6. after the line whose tick >= 256 (32 lines) prints
 *      "avocado-rr bare-metal guest: done\n", clears Status.IE/IM7 and
 *      spins forever
 *   7. every UART byte is sent after polling LSR.THRE
 *   Output thus depends on where interrupts land relative to instructions.
 *
 * Machine details (QEMU hw/mips/malta.c, target/mips/cpu.c, cp0_timer.c):
 *   - RAM at physical 0 (kseg0 0x80000000 / kseg1 0xa0000000).  -kernel
 *     loads the ELF through cpu_mips_kseg0_to_phys, so linking at
 *     0x80000000 puts it at physical 0.  QEMU writes a small bootloader to
 *     the flash at 0x1fc00000: it sets up the GT64120 (PCI I/O window at
 *     physical 0x18000000), PIIX4 IRQ routing, a0-a3 (argc/argv/envp/
 *     memsize, unused here), sp = 0x80001fc0, and jumps to the ELF entry.
 *     Status.ERL is cleared by the board reset, but Status.BEV is still 1,
 *     so the guest writes Status itself (BEV = 0, EXL = 0, kernel mode).
 *     The prom/env table is a ROM blob at physical 0x2000-0x3040, so the
 *     image must stay below it: text is linked at 0x80000000 (< 4 KiB),
 *     data at 0x80001000 (a different 4 KiB page than the code, so stores
 *     never invalidate translated code), and the assembler's
 *     .MIPS.abiflags/.reginfo are moved to 0x80001800 with --section-start
 *     (else ld puts them in an extra segment at 0x004000b8).  Result: one
 *     PT_LOAD, 0x80000000-0x80001830 (physical 0-0x1830).
 *   - Vector: EBase = 0x80000000 after reset, Cause.IV = 0, BEV = 0, so
 *     interrupts go to the general exception vector 0x80000180; the
 *     handler is placed there with .org (no linker script needed).
 *     _start at 0x80000000 just jumps over the vector area.
 *   - UART: the first -serial chardev (serial_hd(0)) is the SMSC FDC37M81X
 *     Super I/O's COM1, a 16550 at ISA I/O 0x3f8, i.e. physical
 *     0x18000000 + 0x3f8, used through kseg1 at 0xb80003f8 (byte
 *     registers, regshift 0); THR = +0, LSR = +5, LSR.THRE = 0x20.
 *     (The FPGA "CBUS" UART at 0x1f000900 is serial_hd(2), the third
 *     -serial.)
 *   - Timer: CP0 Count (reg 9) / Compare (reg 11).  The malta CPU clock is
 *     320 MHz and Count advances every CCRes = 2 CPU cycles, so ~160 MHz
 *     of QEMU's virtual clock; Compare = Count + 160000 gives ~1 kHz.
 *     Count == Compare raises Cause.TI on IntCtl.IPTI = 7, i.e. Cause.IP7
 *     (hardware interrupt 5); enabled with Status.IM7 (0x8000) + IE (1).
 *     Writing Compare clears the pending timer interrupt.  The i8259 (IP2)
 *     and the rest stay masked.
 *   - CPU: 24Kf (MIPS32R2): has mul, ehb, eret; branches/jumps have one
 *     delay slot (.set noreorder, delay slots filled by hand), eret has
 *     none.
 *
 * Build (see build.sh):
 *   mips-linux-gnu-as -EB -march=24kf -mabi=32 -non_shared -o guest.o mips-malta.S
 *   mips-linux-gnu-ld -EB -N -Ttext=0x80000000 -Tdata=0x80001000 \
 *       --section-start=.MIPS.abiflags=0x80001800 -e _start -o guest.elf guest.o
 *
 * Run:
 *   qemu-system-mips -M malta -nodefaults -display none -serial stdio \
 *     -monitor none -no-reboot -kernel guest.elf -icount shift=7
 */

        .equ UART_BASE,   0xb80003f8      /* kseg1, ISA 0x3f8 (COM1) */
        .equ UART_LSR,    5
        .equ LSR_THRE,    0x20

        .equ TICK_PERIOD, 160000          /* 160 MHz Count / 160000 = 1 kHz */

        .equ ST_IE,       0x00000001
        .equ ST_IM7,      0x00008000
        .equ CAUSE_DC,    0x08000000      /* Cause.DC: disable Count */

        .equ LCG_A,       1664525
        .equ LCG_C,       1013904223
        .equ ACC_INIT,    0x12345678

        .set noreorder
        .set noat
        .set nomips16

        .text
        .global _start
/* ---- 0x80000000: ELF entry ---- */
_start:
        j       start
        nop

/* ---- 0x80000180: general exception vector (only IP7 is enabled) ---- */
        .org    0x180
exc_handler:
        mfc0    $k0, $9                 /* Count */
        li      $k1, TICK_PERIOD
        addu    $k0, $k0, $k1
        mtc0    $k0, $11                /* Compare = Count + period: ack */
        lui     $k1, %hi(ticks)
        lw      $k0, %lo(ticks)($k1)
        addiu   $k0, $k0, 1
        sw      $k0, %lo(ticks)($k1)    /* ticks++ */
        ehb
        eret                            /* no delay slot */

/* ---- main program ---- */
        .org    0x200
start:
        /* Status: kernel mode, BEV = 0, EXL = ERL = 0, all IRQs off */
        mtc0    $zero, $12
        ehb
        mfc0    $t0, $13                /* Cause: DC = 0, IV = 0 */
        li      $t1, ~CAUSE_DC
        and     $t0, $t0, $t1
        mtc0    $t0, $13
        ehb

        la      $sp, stack_top

        la      $a0, msg_start
        jal     puts
        nop

        move    $s0, $zero              /* ticks at last line */
        move    $s1, $zero              /* iter */
        li      $s2, ACC_INIT           /* acc */
        li      $s3, LCG_A
        li      $s4, LCG_C
        la      $s5, ticks

        /* timer: Compare = Count + period, then Status.IM7 | IE */
        mfc0    $t0, $9
        li      $t1, TICK_PERIOD
        addu    $t0, $t0, $t1
        mtc0    $t0, $11
        li      $t0, ST_IM7 | ST_IE
        mtc0    $t0, $12
        ehb

main_loop:
        addiu   $s1, $s1, 1             /* iter++ */
        mul     $s2, $s2, $s3           /* acc = acc * A + C */
        addu    $s2, $s2, $s4
        lw      $s6, 0($s5)             /* current ticks */
        subu    $t0, $s6, $s0
        sltiu   $t0, $t0, 8
        bnez    $t0, main_loop
        nop

        /* print "tick T iter I acc A\n" */
        move    $s0, $s6                /* last = ticks read */
        la      $a0, msg_tick
        jal     puts
        nop
        jal     puthex
        move    $a0, $s6                /* delay slot */
        la      $a0, msg_iter
        jal     puts
        nop
        jal     puthex
        move    $a0, $s1                /* delay slot */
        la      $a0, msg_acc
        jal     puts
        nop
        jal     puthex
        move    $a0, $s2                /* delay slot */
        jal     putc
        li      $a0, 0x0a               /* delay slot */
        move    $s1, $zero              /* iter = 0 */

        sltiu   $t0, $s0, 256
        bnez    $t0, main_loop
        nop

        la      $a0, msg_done
        jal     puts
        nop
        /* disable interrupts (IE = 0, IM7 = 0) */
        mtc0    $zero, $12
        ehb
spin:
        b       spin
        nop

/* putc: a0 = byte.  Clobbers t8, t9. */
putc:
        li      $t8, UART_BASE
1:      lbu     $t9, UART_LSR($t8)
        andi    $t9, $t9, LSR_THRE
        beqz    $t9, 1b
        nop
        jr      $ra
        sb      $a0, 0($t8)             /* delay slot: THR = byte */

/* puts: a0 = NUL-terminated string.  Clobbers a0, a1, t7-t9. */
puts:
        move    $t7, $ra
        move    $a1, $a0
1:      lbu     $a0, 0($a1)
        beqz    $a0, 2f
        nop
        jal     putc
        addiu   $a1, $a1, 1             /* delay slot */
        b       1b
        nop
2:      jr      $t7
        nop

/* puthex: a0 = value, prints 8 lowercase hex digits.
 * Clobbers a0-a3, t7-t9. */
puthex:
        move    $t7, $ra
        move    $a1, $a0
        li      $a2, 8
1:      srl     $a0, $a1, 28
        sltiu   $a3, $a0, 10
        bnez    $a3, 2f
        addiu   $a0, $a0, '0'           /* delay slot: always */
        addiu   $a0, $a0, 'a' - '0' - 10
2:      jal     putc
        sll     $a1, $a1, 4             /* delay slot */
        addiu   $a2, $a2, -1
        bnez    $a2, 1b
        nop
        jr      $t7
        nop

msg_start: .asciz "avocado-rr bare-metal guest: malta\n"
msg_tick:  .asciz "tick "
msg_iter:  .asciz " iter "
msg_acc:   .asciz " acc "
msg_done:  .asciz "avocado-rr bare-metal guest: done\n"

        .data
        .align 4
ticks:  .word 0
        .space 252
stack_top:
        .word 0
