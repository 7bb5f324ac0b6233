/*
 * or1k-or1k-sim.S - bare-metal record/replay test guest for QEMU "or1k-sim"
 *
 * What it does (the shared avocado-rr bare-metal guest design):
 *   1. prints "avocado-rr bare-metal guest: or1k-sim\n"
 *   2. starts a periodic ~1 kHz tick-timer interrupt and enables it (SR_TEE)
 *   3. main loop: iter += 1; acc = acc * 1664525 + 1013904223 (mod 2^32,
 *      acc starts at 0x12345678)
 *   4. tick exception handler (vector 0x500): acknowledge (clear TTMR.IP,
 *      re-arm in restart mode, TTCR = 0), ticks += 1, l.rfe; saves/restores
 *      the GPRs it uses on the stack (r1)
 *   5. whenever ticks has advanced by >= 8 since the last line, the main loop
 *      prints "tick TTTTTTTT iter IIIIIIII acc AAAAAAAA\n" (8 lowercase hex
 *      digits each; tick = ticks value read, iter = iterations since the
 *      previous line, then iter = 0)
 *   6. after the line whose tick >= 256 (32 lines) prints
 *      "avocado-rr bare-metal guest: done\n", stops the timer, clears SR_TEE
 *      and spins forever
 *   7. every UART byte is sent after polling LSR.THRE
 *   Output thus depends on where interrupts land relative to instructions.
 *
 * Machine details (QEMU hw/openrisc/openrisc_sim.c, cputimer.c, sys_helper.c):
 *   - RAM at 0x00000000.  -kernel ELF is loaded at its physical addresses and
 *     the CPU starts at the ELF entry (r3 = FDT address, unused here).
 *     Exception vectors are at EVBAR(=0) + 0x100 * n: 0x100 reset,
 *     0x500 tick timer, 0x800 external interrupt.  So .text is linked at
 *     0x100 (reset vector = _start) and the tick handler is placed at 0x500
 *     with .org (no linker script needed).
 *   - UART: 16550 (serial_mm, regshift 0, byte registers) at 0x90000000;
 *     THR = +0, LSR = +5, LSR.THRE = 0x20.
 *   - Timer: OpenRISC tick timer, SPR group 10: TTMR = 0x5000, TTCR = 0x5001.
 *     It counts at 20 MHz of QEMU's virtual clock (50 ns/tick), so
 *     TTMR.TP = 20000 gives 1 kHz.  TTMR = M(31:30, 01 = restart) |
 *     IE(29) | IP(28) | TP(27:0).  Writing TTMR with IP = 0 acknowledges.
 *     Tick exception is taken when TTMR.IP and SR.TEE (bit 1); SR = SPR 17.
 *   - CPU: or1200, has l.mul.  Branches/jumps have one delay slot (l.rfe
 *     has none).  Data (ticks, stack) is linked at 0x4000, a different
 *     8 KiB QEMU page than the code, so stores never invalidate code.
 *
 * Build (see build.sh):
 *   or1k-elf-as -o guest.o or1k-or1k-sim.S
 *   or1k-elf-ld -Ttext=0x100 -Tdata=0x4000 -e _start -o guest.elf guest.o
 *
 * Run:
 *   qemu-system-or1k -M or1k-sim -nodefaults -display none -serial stdio \
 *     -monitor none -no-reboot -kernel guest.elf -icount shift=7
 */

        .equ UART_BASE,   0x90000000
        .equ UART_LSR,    5
        .equ LSR_THRE,    0x20

        .equ SPR_SR,      17
        .equ SPR_TTMR,    (10 << 11) + 0
        .equ SPR_TTCR,    (10 << 11) + 1
        .equ SR_TEE,      0x2

        .equ TTMR_RESTART, 0x40000000
        .equ TTMR_IE,      0x20000000
        .equ TICK_PERIOD,  20000          /* 20 MHz / 20000 = 1 kHz */
        .equ TTMR_VAL,     TTMR_RESTART | TTMR_IE | TICK_PERIOD

        .equ LCG_A,       1664525
        .equ LCG_C,       1013904223
        .equ ACC_INIT,    0x12345678

        .text
        .global _start
/* ---- 0x100: reset vector / ELF entry ---- */
_start:
        l.j     start
        l.nop

/* ---- 0x500: tick timer exception ---- */
        .org    0x500 - 0x100
tick_handler:
        l.addi  r1, r1, -8
        l.sw    0(r1), r3
        l.sw    4(r1), r4
        /* acknowledge: clear IP, keep restart mode + IE + period */
        l.movhi r3, hi(TTMR_VAL)
        l.ori   r3, r3, lo(TTMR_VAL)
        l.mtspr r0, r3, SPR_TTMR
        /* and restart the count: QEMU 7.2's restart mode alone ticks at
         * twice the period's rate, and in 2 of 30 runs misses the match
         * after each console line, the next tick 2^30 cycles (53.7 s)
         * later (docs/findings.md, section 8) */
        l.mtspr r0, r0, SPR_TTCR
        /* ticks++ */
        l.movhi r3, hi(ticks)
        l.ori   r3, r3, lo(ticks)
        l.lwz   r4, 0(r3)
        l.addi  r4, r4, 1
        l.sw    0(r3), r4
        l.lwz   r4, 4(r1)
        l.lwz   r3, 0(r1)
        l.addi  r1, r1, 8
        l.rfe                   /* restores PC from EPCR, SR from ESR */

/* ---- main program ---- */
        .org    0x600 - 0x100
start:
        l.movhi r0, 0                   /* r0 must be zero */
        l.movhi r1, hi(stack_top)
        l.ori   r1, r1, lo(stack_top)

        l.movhi r6, hi(msg_start)
        l.jal   puts
        l.ori   r6, r6, lo(msg_start)   /* delay slot */

        l.movhi r20, 0                  /* ticks at last line */
        l.movhi r21, 0                  /* iter */
        l.movhi r22, hi(ACC_INIT)       /* acc */
        l.ori   r22, r22, lo(ACC_INIT)
        l.movhi r23, hi(LCG_A)
        l.ori   r23, r23, lo(LCG_A)
        l.movhi r24, hi(LCG_C)
        l.ori   r24, r24, lo(LCG_C)
        l.movhi r25, hi(ticks)
        l.ori   r25, r25, lo(ticks)

        /* tick timer: TTCR = 0, TTMR = restart | IE | 20000, then SR.TEE */
        l.mtspr r0, r0, SPR_TTCR
        l.movhi r3, hi(TTMR_VAL)
        l.ori   r3, r3, lo(TTMR_VAL)
        l.mtspr r0, r3, SPR_TTMR
        l.mfspr r3, r0, SPR_SR
        l.ori   r3, r3, SR_TEE
        l.mtspr r0, r3, SPR_SR

main_loop:
        l.addi  r21, r21, 1             /* iter++ */
        l.mul   r22, r22, r23           /* acc = acc * A + C */
        l.add   r22, r22, r24
        l.lwz   r26, 0(r25)             /* current ticks */
        l.sub   r3, r26, r20
        l.sfltui r3, 8
        l.bf    main_loop
        l.nop

        /* print "tick T iter I acc A\n" */
        l.ori   r20, r26, 0             /* last = ticks read */
        l.movhi r6, hi(msg_tick)
        l.jal   puts
        l.ori   r6, r6, lo(msg_tick)
        l.jal   puthex
        l.ori   r6, r26, 0
        l.movhi r6, hi(msg_iter)
        l.jal   puts
        l.ori   r6, r6, lo(msg_iter)
        l.jal   puthex
        l.ori   r6, r21, 0
        l.movhi r6, hi(msg_acc)
        l.jal   puts
        l.ori   r6, r6, lo(msg_acc)
        l.jal   puthex
        l.ori   r6, r22, 0
        l.jal   putc
        l.ori   r3, r0, 0x0a
        l.movhi r21, 0                  /* iter = 0 */

        l.sfgeui r20, 256
        l.bnf   main_loop
        l.nop

        l.movhi r6, hi(msg_done)
        l.jal   puts
        l.ori   r6, r6, lo(msg_done)
        /* stop timer, disable tick exceptions */
        l.mtspr r0, r0, SPR_TTMR
        l.mfspr r3, r0, SPR_SR
        l.addi  r4, r0, ~SR_TEE
        l.and   r3, r3, r4
        l.mtspr r0, r3, SPR_SR
spin:
        l.j     spin
        l.nop

/* putc: r3 = byte.  Clobbers r4, r5. */
putc:
        l.movhi r4, hi(UART_BASE)
1:      l.lbz   r5, UART_LSR(r4)
        l.andi  r5, r5, LSR_THRE
        l.sfeqi r5, 0
        l.bf    1b
        l.nop
        l.sb    0(r4), r3
        l.jr    r9
        l.nop

/* puts: r6 = NUL-terminated string.  Clobbers r3-r7. */
puts:
        l.ori   r7, r9, 0
1:      l.lbz   r3, 0(r6)
        l.sfeqi r3, 0
        l.bf    2f
        l.nop
        l.jal   putc
        l.addi  r6, r6, 1               /* delay slot */
        l.j     1b
        l.nop
2:      l.jr    r7
        l.nop

/* puthex: r6 = value, prints 8 lowercase hex digits.  Clobbers r3-r8. */
puthex:
        l.ori   r7, r9, 0
        l.addi  r8, r0, 8
1:      l.srli  r3, r6, 28
        l.sfltui r3, 10
        l.bf    2f
        l.addi  r3, r3, '0'             /* delay slot: always */
        l.addi  r3, r3, 'a' - '0' - 10
2:      l.jal   putc
        l.slli  r6, r6, 4               /* delay slot */
        l.addi  r8, r8, -1
        l.sfnei r8, 0
        l.bf    1b
        l.nop
        l.jr    r7
        l.nop

msg_start: .asciz "avocado-rr bare-metal guest: or1k-sim\n"
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
