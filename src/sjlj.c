/*
** Lua's setjmp/longjmp become wasm exceptions (-mllvm -wasm-enable-sjlj):
** the link needs the exception tag defined exactly once.
*/
__asm__(".globl __c_longjmp\n.tagtype __c_longjmp i32\n__c_longjmp:\n");
