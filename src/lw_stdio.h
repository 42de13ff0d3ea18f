/*
** The stdio that liolib.c sees: its FILE is lw_File, a stream of the
** confined file layer of src/files.zig (the notebook's folder through the
** host's lw_file_* imports; stdin, stdout and stderr through the input box
** and the cell's output). Included by lua_user.h inside liolib.c only:
** libc's FILE would import WASI's fd_read/fd_write.
**
** luaL_Stream (lauxlib.h) holds `FILE *f`, a pointer: inside liolib.c it is
** an `lw_File *`, and all pointers to structures share one representation
** and alignment (C99 6.2.5), so the userdata's layout is the same in
** every file. Only liolib.c reads or writes `f`; lauxlib.c declares
** luaL_Stream but never uses it, and uses lw_File only in luaL_loadfilex.
*/
#ifndef lw_stdio_h
#define lw_stdio_h

#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>

/* The head of files.zig's File: the read-ahead buffer's window, which the
** inline getc below reads without a call. */
typedef struct lw_File {
  unsigned char *next;  /* next buffered byte */
  unsigned char *end;  /* end of the buffered bytes */
} lw_File;

lw_File *lw_fopen(const char *name, const char *mode);
lw_File *lw_freopen(const char *name, const char *mode, lw_File *f);
int lw_feof(lw_File *f);
int lw_fclose(lw_File *f);
int lw_fill(lw_File *f);  /* refills the buffer; its first byte or EOF */
int lw_ungetc(int c, lw_File *f);
size_t lw_fread(void *p, size_t size, size_t n, lw_File *f);
size_t lw_fwrite(const void *p, size_t size, size_t n, lw_File *f);
int lw_fflush(lw_File *f);
int lw_ferror(lw_File *f);
void lw_clearerr(lw_File *f);
int lw_setvbuf(lw_File *f, int mode, size_t size);
int lw_fseek(lw_File *f, long long offset, int whence);
long long lw_ftell(lw_File *f);
lw_File *lw_tmpfile(void);
lw_File *lw_stdfile(int which);  /* 0 stdin, 1 stdout, 2 stderr */

static inline int lw_getc(lw_File *f) {
  return (f->next < f->end) ? *f->next++ : lw_fill(f);
}

/* liolib writes only numbers with fprintf (LUA_INTEGER_FMT, LUA_NUMBER_FMT):
** formatted by src/numfmt.c, as tostring's are. */
int lw_numfmt_vsprintf(char *buf, size_t size, const char *fmt, va_list ap);
static inline int lw_fprintf(lw_File *f, const char *fmt, ...) {
  char buff[64];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = lw_numfmt_vsprintf(buff, sizeof(buff), fmt, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof(buff)) return -1;
  return (lw_fwrite(buff, 1, (size_t)n, f) == (size_t)n) ? n : -1;
}

#undef FILE
#undef stdin
#undef stdout
#undef stderr
#undef getc
#undef ungetc
#undef fopen
#undef freopen
#undef feof
#undef fclose
#undef fread
#undef fwrite
#undef fprintf
#undef fflush
#undef ferror
#undef clearerr
#undef setvbuf
#undef tmpfile
#define FILE                lw_File
#define stdin               lw_stdfile(0)
#define stdout              lw_stdfile(1)
#define stderr              lw_stdfile(2)
#define getc(f)             lw_getc(f)
#define l_getc(f)           lw_getc(f)
#define l_lockfile(f)       ((void)0)
#define l_unlockfile(f)     ((void)0)
#define ungetc(c, f)        lw_ungetc((c), (f))
#define fopen(n, m)         lw_fopen((n), (m))
#define freopen(n, m, f)    lw_freopen((n), (m), (f))
#define feof(f)             lw_feof(f)
#define fclose(f)           lw_fclose(f)
#define fread(p, s, n, f)   lw_fread((p), (s), (n), (f))
#define fwrite(p, s, n, f)  lw_fwrite((p), (s), (n), (f))
#define fprintf             lw_fprintf
#define fflush(f)           lw_fflush(f)
#define ferror(f)           lw_ferror(f)
#define clearerr(f)         lw_clearerr(f)
#define setvbuf(f, b, m, s) ((void)(b), lw_setvbuf((f), (m), (s)))
#define tmpfile()           lw_tmpfile()
#define l_fseek(f, o, w)    lw_fseek((f), (o), (w))
#define l_ftell(f)          lw_ftell(f)
#define l_seeknum           long long
/* l_popen stays undefined: liolib's ISO C path raises "'popen' not supported". */

#endif
