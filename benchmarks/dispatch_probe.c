/*
** A toy register VM dispatched four ways, to measure what each costs under
** wasmtime (benchmarks/bench_dispatch.py): a computed-goto loop (what lvm.c
** compiles to), tail-call threading (one function per opcode ending in a
** musttail call through a table: wasm return_call_indirect), the same ending
** in a switch of direct musttail calls (a br_table per handler, then
** return_call), and call threading (a loop of indirect calls). Same program,
** same result.
*/
#include <stdint.h>
typedef uint32_t Ins;
enum { OP_LOADI, OP_ADD, OP_ADDI, OP_SUB, OP_MUL, OP_LT_JMP, OP_JMP, OP_MOVE, OP_XOR, OP_SHR, OP_HALT, NOPS };
#define OP(i) ((i) & 0xff)
#define A(i) (((i) >> 8) & 0xff)
#define B(i) (((i) >> 16) & 0xff)
#define C(i) ((int)((i) >> 24))
#define SJ(i) ((int32_t)(i) >> 16)
static Ins prog[64];
static int64_t regs[16];

/* computed-goto loop, as lvm.c with LUA_USE_JUMPTABLE */
__attribute__((export_name("run_goto"))) int64_t run_goto(int64_t n) {
  static const void *const disp[NOPS] = {&&L_LOADI, &&L_ADD, &&L_ADDI, &&L_SUB, &&L_MUL, &&L_LT_JMP, &&L_JMP, &&L_MOVE, &&L_XOR, &&L_SHR, &&L_HALT};
  int64_t *r = regs; const Ins *pc = prog; Ins i;
  r[1] = n;
#define NEXT i = *pc++; goto *disp[OP(i)]
  NEXT;
  L_LOADI: r[A(i)] = B(i); NEXT;
  L_ADD: r[A(i)] = r[B(i)] + r[C(i)]; NEXT;
  L_ADDI: r[A(i)] = r[B(i)] + C(i); NEXT;
  L_SUB: r[A(i)] = r[B(i)] - r[C(i)]; NEXT;
  L_MUL: r[A(i)] = r[B(i)] * r[C(i)]; NEXT;
  L_LT_JMP: if (r[A(i)] < r[B(i) & 0xf]) pc += (int8_t)(i >> 24); NEXT;
  L_JMP: pc += SJ(i); NEXT;
  L_MOVE: r[A(i)] = r[B(i)]; NEXT;
  L_XOR: r[A(i)] = r[B(i)] ^ r[C(i)]; NEXT;
  L_SHR: r[A(i)] = r[B(i)] >> C(i); NEXT;
  L_HALT: return r[A(i)];
}

/* tail-call threaded: one function per opcode */
typedef int64_t (*H)(const Ins *pc, int64_t *r, Ins i);
static H tdisp[NOPS];
#define TNEXT i = *pc++; __attribute__((musttail)) return tdisp[OP(i)](pc, r, i)
static int64_t T_LOADI(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = B(i); TNEXT; }
static int64_t T_ADD(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] + r[C(i)]; TNEXT; }
static int64_t T_ADDI(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] + C(i); TNEXT; }
static int64_t T_SUB(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] - r[C(i)]; TNEXT; }
static int64_t T_MUL(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] * r[C(i)]; TNEXT; }
static int64_t T_LT_JMP(const Ins *pc, int64_t *r, Ins i) { if (r[A(i)] < r[B(i) & 0xf]) pc += (int8_t)(i >> 24); TNEXT; }
static int64_t T_JMP(const Ins *pc, int64_t *r, Ins i) { pc += SJ(i); TNEXT; }
static int64_t T_MOVE(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)]; TNEXT; }
static int64_t T_XOR(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] ^ r[C(i)]; TNEXT; }
static int64_t T_SHR(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] >> C(i); TNEXT; }
static int64_t T_HALT(const Ins *pc, int64_t *r, Ins i) { (void)pc; return r[A(i)]; }
__attribute__((export_name("run_tail"))) int64_t run_tail(int64_t n) {
  static H init[NOPS] = {T_LOADI, T_ADD, T_ADDI, T_SUB, T_MUL, T_LT_JMP, T_JMP, T_MOVE, T_XOR, T_SHR, T_HALT};
  for (int k = 0; k < NOPS; k++) tdisp[k] = init[k];
  regs[1] = n;
  return tdisp[OP(prog[0])](prog + 1, regs, prog[0]);
}

/* tail-call threaded, each handler dispatching by its own switch of direct tail calls */
#define SDECL(name) static int64_t S_##name(const Ins *pc, int64_t *r, Ins i);
SDECL(LOADI) SDECL(ADD) SDECL(ADDI) SDECL(SUB) SDECL(MUL) SDECL(LT_JMP) SDECL(JMP) SDECL(MOVE) SDECL(XOR) SDECL(SHR) SDECL(HALT)
#define SCASE(name) case OP_##name: __attribute__((musttail)) return S_##name(pc, r, i);
#define SNEXT i = *pc++; switch (OP(i)) { SCASE(LOADI) SCASE(ADD) SCASE(ADDI) SCASE(SUB) SCASE(MUL) \
  SCASE(LT_JMP) SCASE(JMP) SCASE(MOVE) SCASE(XOR) SCASE(SHR) default: __attribute__((musttail)) return S_HALT(pc, r, i); }
static int64_t S_LOADI(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = B(i); SNEXT; }
static int64_t S_ADD(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] + r[C(i)]; SNEXT; }
static int64_t S_ADDI(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] + C(i); SNEXT; }
static int64_t S_SUB(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] - r[C(i)]; SNEXT; }
static int64_t S_MUL(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] * r[C(i)]; SNEXT; }
static int64_t S_LT_JMP(const Ins *pc, int64_t *r, Ins i) { if (r[A(i)] < r[B(i) & 0xf]) pc += (int8_t)(i >> 24); SNEXT; }
static int64_t S_JMP(const Ins *pc, int64_t *r, Ins i) { pc += SJ(i); SNEXT; }
static int64_t S_MOVE(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)]; SNEXT; }
static int64_t S_XOR(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] ^ r[C(i)]; SNEXT; }
static int64_t S_SHR(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] >> C(i); SNEXT; }
static int64_t S_HALT(const Ins *pc, int64_t *r, Ins i) { (void)pc; return r[A(i)]; }
__attribute__((export_name("run_tailsw"))) int64_t run_tailsw(int64_t n) {
  regs[1] = n;
  return S_JMP(prog, regs, 0);  /* a jump by 0 dispatches the first instruction */
}

#define I(op, a, b, c) ((Ins)(op) | (Ins)(a) << 8 | (Ins)(b) << 16 | (Ins)(c) << 24)
__attribute__((export_name("setup"))) void setup(void) {
  int k = 0;
  prog[k++] = I(OP_LOADI, 0, 0, 0);   /* r0 = i = 0 */
  prog[k++] = I(OP_LOADI, 2, 0, 0);   /* r2 = acc */
  prog[k++] = I(OP_LOADI, 4, 3, 0);   /* r4 = 3 */
  /* loop: */
  prog[k++] = I(OP_ADD, 2, 2, 0);
  prog[k++] = I(OP_MUL, 3, 0, 4);
  prog[k++] = I(OP_XOR, 2, 2, 3);
  prog[k++] = I(OP_SHR, 5, 2, 1);
  prog[k++] = I(OP_SUB, 2, 2, 5);
  prog[k++] = I(OP_MOVE, 6, 2, 0);
  prog[k++] = I(OP_ADDI, 0, 0, 1);
  prog[k++] = I(OP_LT_JMP, 0, 1, (uint8_t)(int8_t)-8);  /* if i < n goto loop */
  prog[k++] = I(OP_HALT, 6, 0, 0);
}

/* call threading: a loop of indirect calls, each handler returns the next pc (0 to stop) */
typedef const Ins *(*CH)(const Ins *pc, int64_t *r, Ins i);
#define CNEXT return pc
static const Ins *C_LOADI(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = B(i); CNEXT; }
static const Ins *C_ADD(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] + r[C(i)]; CNEXT; }
static const Ins *C_ADDI(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] + C(i); CNEXT; }
static const Ins *C_SUB(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] - r[C(i)]; CNEXT; }
static const Ins *C_MUL(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] * r[C(i)]; CNEXT; }
static const Ins *C_LT_JMP(const Ins *pc, int64_t *r, Ins i) { if (r[A(i)] < r[B(i) & 0xf]) pc += (int8_t)(i >> 24); CNEXT; }
static const Ins *C_JMP(const Ins *pc, int64_t *r, Ins i) { pc += SJ(i); CNEXT; }
static const Ins *C_MOVE(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)]; CNEXT; }
static const Ins *C_XOR(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] ^ r[C(i)]; CNEXT; }
static const Ins *C_SHR(const Ins *pc, int64_t *r, Ins i) { r[A(i)] = r[B(i)] >> C(i); CNEXT; }
static const Ins *C_HALT(const Ins *pc, int64_t *r, Ins i) { (void)pc; r[15] = r[A(i)]; return 0; }
static CH cdisp[NOPS] = {C_LOADI, C_ADD, C_ADDI, C_SUB, C_MUL, C_LT_JMP, C_JMP, C_MOVE, C_XOR, C_SHR, C_HALT};
__attribute__((export_name("run_call"))) int64_t run_call(int64_t n) {
  const Ins *pc = prog; regs[1] = n;
  while (pc) { Ins i = *pc++; pc = cdisp[OP(i)](pc, regs, i); }
  return regs[15];
}
