/*
 * avocado-rr bare-metal guest for QEMU xtensa (little-endian qemu-system-xtensa)
 *
 * Machine : lx60   (xtfpga "lx60 EVB", hw/xtensa/xtfpga.c)
 * Core    : lx106  (-cpu lx106: the ESP8266 core, target/xtensa/core-lx106;
 *                   the same core binutils-xtensa-lx106 is configured for)
 *           call0 ABI only (no windowed registers), XEA2, MUL32 (mull),
 *           region protection (identity map, all regions RWX at reset),
 *           clock_freq_khz = 40000 (CCOUNT runs at 40 MHz of QEMU's
 *           virtual clock).
 * Memory  : lx106 has no SYSRAM/SYSROM defines, so QEMU's defaults apply:
 *           sysrom 0x50000000 (= reset vector 0 of lx106),
 *           sysram 0x60000000 (size = -m, 64 MiB default for lx60).
 *           Section .reset.text is linked at 0x50000000 and is the ELF entry
 *           (so QEMU writes no boot stub); it jumps to _start in .text,
 *           linked at 0x60000000.  VECBASE is set to 0x60000000.
 * Vectors : relative to VECBASE (XEA2): 0x10 level2/debug, 0x20 NMI (level 3),
 *           0x30 KernelExceptionVector (level-1 interrupts with PS.UM=0,
 *           EXCCAUSE=4), 0x50 UserExceptionVector, 0x70 DoubleException.
 * Timer   : CCOMPARE0 -> interrupt 6, level 1 (INTENABLE bit 6), handled in
 *           the kernel exception vector, returns with rfe.
 *           period = 40000 CCOUNT cycles = 1 kHz at 40 MHz.
 * UART    : 16550 (serial_mm, regshift 2, native endian) at
 *           xtfpga io base 0xf0000000 + 0x0d050020 = 0xfd050020
 *           THR = +0x00, LSR = +0x14, LSR.THRE = bit 5.
 *
 * Build (see build.sh):
 *   xtensa-lx106-elf-as --text-section-literals -o xtensa-lx60.o xtensa-lx60.S
 *   xtensa-lx106-elf-ld -N --no-warn-rwx-segments -Ttext=0x60000000 \
 *     --section-start=.reset.text=0x50000000 -e _reset -o guest.elf xtensa-lx60.o
 * Run:
 *   qemu-system-xtensa -M lx60 -cpu lx106 -nodefaults -display none \
 *     -serial stdio -monitor none -no-reboot -kernel guest.elf -icount shift=7
 *
 * Note: plain "as" does not run cpp, so only .equ / # and C-style comments.
 */

        .equ    UART_BASE,  0xfd050020
        .equ    UART_THR,   0x00
        .equ    UART_LSR,   0x14
        .equ    LSR_THRE,   5
        .equ    PERIOD,     40000          /* CCOUNT cycles per tick: 1 kHz @ 40 MHz */
        .equ    TIMER_IRQ,  6              /* CCOMPARE0 interrupt number */
        .equ    LCG_MUL,    1664525
        .equ    LCG_ADD,    1013904223
        .equ    ACC_INIT,   0x12345678
        .equ    TICKS_PER_LINE, 8
        .equ    TICKS_DONE, 256

/* ---------------- reset code at the lx106 reset vector 0x50000000 -------------
 * The ELF entry point is the reset vector itself, so xtfpga's -kernel loader
 * does not need to write its "jump to entry" stub there (QEMU 11.1 leaves
 * 0x50000000 empty with an entry elsewhere -> 'ill' -> double exception loop).
 */
        .section .reset.text, "ax"
        .global _reset
_reset:
        j       1f
        .literal_position
        .align  4
1:      movi    a0, _start
        jx      a0

        .text
        .global _start
        .global _vectors

/* ---------------- vector table (VECBASE = _vectors) ---------------- */
        .align  4
_vectors:
        j       _start                  /* +0x00: not a vector, entry convenience */

        .org    _vectors + 0x10         /* level-2 / debug vector */
1:      j       1b

        .org    _vectors + 0x20         /* NMI / level-3 vector */
1:      j       1b

        .org    _vectors + 0x30         /* KernelExceptionVector */
        wsr     a2, excsave1
        j       kernel_exc

        .org    _vectors + 0x50         /* UserExceptionVector: unexpected */
1:      j       1b

        .org    _vectors + 0x70         /* DoubleExceptionVector: unexpected */
1:      j       1b

        .org    _vectors + 0x80
        .literal_position

/* ---------------- level-1 interrupt / exception handler ---------------- */
        .align  4
kernel_exc:
        movi    a2, isr_save
        s32i    a3, a2, 0
        s32i    a4, a2, 4
        rsr     a3, exccause
        movi    a4, 4                   /* Level1InterruptCause */
        bne     a3, a4, fatal
        rsr     a3, ccount              /* ack: CCOMPARE0 = CCOUNT + PERIOD */
        movi    a4, PERIOD
        add     a3, a3, a4
        wsr     a3, ccompare0
        movi    a3, ticks
        l32i    a4, a3, 0
        addi    a4, a4, 1
        s32i    a4, a3, 0
        l32i    a3, a2, 0
        l32i    a4, a2, 4
        rsr     a2, excsave1
        rsync
        rfe

fatal:
1:      j       1b

        .literal_position

/* ---------------- entry ---------------- */
        .align  4
_start:
        movi    a1, stack_top
        movi    a2, _vectors
        wsr     a2, vecbase
        movi    a2, 0
        wsr     a2, intenable
        isync

        movi    a2, ticks
        movi    a3, 0
        s32i    a3, a2, 0

        movi    a2, msg_banner
        call0   puts

        /* arm the timer and enable interrupt 6 */
        rsr     a2, ccount
        movi    a3, PERIOD
        add     a2, a2, a3
        wsr     a2, ccompare0
        movi    a2, 1 << TIMER_IRQ
        wsr     a2, intenable
        movi    a2, 0                   /* PS: INTLEVEL=0, EXCM=0, UM=0 */
        wsr     a2, ps
        rsync

        movi    a12, 0                  /* iter */
        movi    a13, ACC_INIT           /* acc */
        movi    a14, 0                  /* tick value of the last line */
        movi    a15, LCG_MUL

main_loop:
        addi    a12, a12, 1
        mull    a13, a13, a15
        movi    a3, LCG_ADD
        add     a13, a13, a3
        movi    a2, ticks
        l32i    a2, a2, 0               /* t = ticks */
        sub     a3, a2, a14
        bltui   a3, TICKS_PER_LINE, main_loop

        mov     a14, a2                 /* last = t */
        movi    a2, msg_tick
        call0   puts
        mov     a2, a14
        call0   puthex
        movi    a2, msg_iter
        call0   puts
        mov     a2, a12
        call0   puthex
        movi    a2, msg_acc
        call0   puts
        mov     a2, a13
        call0   puthex
        movi    a2, '\n'
        call0   putc
        movi    a12, 0
        movi    a3, TICKS_DONE
        bltu    a14, a3, main_loop

        movi    a2, msg_done
        call0   puts
        rsil    a2, 15
        movi    a2, 0
        wsr     a2, intenable
        rsync
halt:
        j       halt

        .literal_position

/* ---------------- UART helpers (call0 ABI) ---------------- */
/* putc: a2 = byte; clobbers a3, a4 */
        .align  4
putc:
        movi    a3, UART_BASE
1:      l32i    a4, a3, UART_LSR
        bbci    a4, LSR_THRE, 1b
        s32i    a2, a3, UART_THR
        ret

/* puts: a2 = NUL-terminated string; clobbers a2-a4, a7 */
        .align  4
puts:
        addi    a1, a1, -16
        s32i    a0, a1, 0
        mov     a7, a2
1:      l8ui    a2, a7, 0
        beqz    a2, 2f
        call0   putc
        addi    a7, a7, 1
        j       1b
2:      l32i    a0, a1, 0
        addi    a1, a1, 16
        ret

/* puthex: a2 = value, printed as 8 lowercase hex digits; clobbers a2-a7 */
        .align  4
puthex:
        addi    a1, a1, -16
        s32i    a0, a1, 0
        mov     a7, a2
        movi    a6, 8
1:      extui   a2, a7, 28, 4
        slli    a7, a7, 4
        bltui   a2, 10, 2f
        addi    a2, a2, 'a' - 10 - '0'
2:      addi    a2, a2, '0'
        call0   putc
        addi    a6, a6, -1
        bnez    a6, 1b
        l32i    a0, a1, 0
        addi    a1, a1, 16
        ret

/* ---------------- data ---------------- */
        .section .rodata
msg_banner: .asciz "avocado-rr bare-metal guest: lx60\n"
msg_tick:   .asciz "tick "
msg_iter:   .asciz " iter "
msg_acc:    .asciz " acc "
msg_done:   .asciz "avocado-rr bare-metal guest: done\n"

        .section .bss
        .align  4
ticks:      .space 4
isr_save:   .space 16
        .align  16
stack:      .space 1024
stack_top:
