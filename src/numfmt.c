/*
** Double-only formatting of Lua floats: the %a %e %f %g conversions (and
** their upper-case forms) with C's flags, width and precision, computed
** exactly on the double, so the C library's long double printf path is not
** paid for; and Lua's integers (%lld and string.format's %d %i %o %u %x %X),
** without printf's general machinery. Output is byte-identical to a
** C-standard printf (tests/test_numfmt.py checks it against native Lua).
** lw_numfmt_sprintf is Lua's l_sprintf in lobject.c and lstrlib.c
** (src/lua_user.h): one float or long long conversion goes here, every
** other format to vsnprintf.
*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LIMB_BASE        1000000000u   /* 9 decimal digits per limb */
#define LIMB_DIGITS      9
/* 2^53 * 5^1074 (the largest product below) has 767 digits: 86 limbs. */
#define LIMBS_MAX        90
#define DIGITS_MAX       (LIMBS_MAX * LIMB_DIGITS)
#define FLAG_LEFT        1
#define FLAG_PLUS        2
#define FLAG_SPACE       4
#define FLAG_ALT         8
#define FLAG_ZERO        16

/* A conversion: flags, width, precision (-1 if none), conversion letter. */
typedef struct Spec { int flags, width, prec; char conv; } Spec;

/* Output with truncation: like snprintf, counts what it would write. */
typedef struct Out { char *buf; size_t size, len; } Out;

static void put (Out *o, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++, o->len++)
    if (o->len + 1 < o->size) o->buf[o->len] = s[i];
}

static void putrep (Out *o, char c, long n) {
  for (; n > 0; n--, o->len++)
    if (o->len + 1 < o->size) o->buf[o->len] = c;
}

/* Exact decimal digits of m * 2^e2: value = 0.D * 10^pos, D without
** leading zeros (n = 0 for zero). Returns n. */
static int decimal_digits (uint64_t m, int e2, char *d, int *pos) {
  uint32_t limb[LIMBS_MAX];
  int nl = 0, i, n = 0, k = 0;
  if (m == 0) { *pos = 0; return 0; }
  while ((m & 1) == 0) { m >>= 1; e2++; }   /* fewer multiplications */
  limb[nl++] = (uint32_t)(m % LIMB_BASE);
  if (m >= LIMB_BASE) limb[nl++] = (uint32_t)(m / LIMB_BASE % LIMB_BASE);
  if (m >= (uint64_t)LIMB_BASE * LIMB_BASE) limb[nl++] = (uint32_t)(m / LIMB_BASE / LIMB_BASE);
  /* m * 2^e2 (e2 >= 0), or m * 5^-e2 with k = -e2 digits after the point */
  while (e2 != 0) {
    uint32_t f;
    uint64_t carry = 0;
    if (e2 > 0) { int s = e2 > 29 ? 29 : e2; f = (uint32_t)1 << s; e2 -= s; }
    else {
      int s = -e2 > 13 ? 13 : -e2;
      for (f = 1, i = 0; i < s; i++) f *= 5;
      e2 += s; k += s;
    }
    for (i = 0; i < nl; i++) {
      uint64_t x = (uint64_t)limb[i] * f + carry;
      limb[i] = (uint32_t)(x % LIMB_BASE);
      carry = x / LIMB_BASE;
    }
    while (carry) { limb[nl++] = (uint32_t)(carry % LIMB_BASE); carry /= LIMB_BASE; }
  }
  for (i = nl - 1; i >= 0; i--) {   /* most significant limb first */
    char tmp[LIMB_DIGITS];
    uint32_t v = limb[i];
    int j;
    for (j = LIMB_DIGITS - 1; j >= 0; j--) { tmp[j] = (char)('0' + v % 10); v /= 10; }
    for (j = 0; j < LIMB_DIGITS; j++)
      if (n > 0 || tmp[j] != '0') d[n++] = tmp[j];
  }
  *pos = n - k;
  return n;
}

/* Keeps the first `keep` digits, rounding half to even on the exact
** digits; a carry out of the top adds a digit (pos grows). Returns n. */
static int round_digits (char *d, int n, int keep, int *pos) {
  int i, up;
  if (keep >= n) return n;
  if (keep < 0) return 0;   /* below half of the last kept place */
  if (d[keep] != '5') up = d[keep] > '5';
  else {
    up = 0;
    for (i = keep + 1; i < n; i++) if (d[i] != '0') { up = 1; break; }
    if (!up) up = keep > 0 && ((d[keep - 1] - '0') & 1);   /* a tie */
  }
  n = keep;
  if (up) {
    for (i = n - 1; i >= 0 && d[i] == '9'; i--) d[i] = '0';
    if (i >= 0) d[i]++;
    else { memmove(d + 1, d, (size_t)n); d[0] = '1'; n++; (*pos)++; }
  }
  while (n > 0 && d[n - 1] == '0') n--;   /* trailing zeros are implied */
  if (n == 0) *pos = 0;
  return n;
}

static char digit_at (const char *d, int n, int i) {
  return (i >= 0 && i < n) ? d[i] : '0';
}

/* The body (no sign) of %e, %f or %g into body; returns its length. */
static int fmt_decimal (const Spec *sp, uint64_t m, int e2, char *body) {
  char d[DIGITS_MAX + 2];
  int pos, n = decimal_digits(m, e2, d, &pos);
  int prec = sp->prec < 0 ? 6 : sp->prec, len = 0, i, exp_form, x;
  char c = (char)(sp->conv | 32);
  int strip = 0;
  if (c == 'g') {
    int p = prec == 0 ? 1 : prec;
    n = round_digits(d, n, p, &pos);
    x = n == 0 ? 0 : pos - 1;
    exp_form = !(p > x && x >= -4);
    prec = exp_form ? p - 1 : p - 1 - x;
    strip = !(sp->flags & FLAG_ALT);
  } else if (c == 'e') {
    n = round_digits(d, n, prec + 1, &pos);
    exp_form = 1;
  } else {
    n = round_digits(d, n, pos + prec, &pos);
    exp_form = 0;
  }
  if (exp_form) {
    char ex[8];
    int e = n == 0 ? 0 : pos - 1, ne = 0, ae = e < 0 ? -e : e;
    body[len++] = digit_at(d, n, 0);
    if (strip && prec > n - 1) prec = n > 1 ? n - 1 : 0;
    if (prec > 0 || (sp->flags & FLAG_ALT)) body[len++] = '.';
    for (i = 1; i <= prec; i++) body[len++] = digit_at(d, n, i);
    body[len++] = (char)(sp->conv == 'E' || sp->conv == 'G' ? 'E' : 'e');
    body[len++] = (char)(e < 0 ? '-' : '+');
    do { ex[ne++] = (char)('0' + ae % 10); ae /= 10; } while (ae);
    if (ne < 2) ex[ne++] = '0';
    while (ne > 0) body[len++] = ex[--ne];
  } else {
    if (strip) {   /* %g: no trailing zeros after the point */
      int last = n - pos;   /* digits after the point that are nonzero-bounded */
      if (prec > last) prec = last > 0 ? last : 0;
    }
    if (pos <= 0) body[len++] = '0';
    for (i = 0; i < pos; i++) body[len++] = digit_at(d, n, i);
    if (prec > 0 || (sp->flags & FLAG_ALT)) body[len++] = '.';
    for (i = 0; i < prec; i++) body[len++] = digit_at(d, n, pos + i);
  }
  return len;
}

/* The body of %a: 0x, a leading 1 (2 after a carry, 0 for zero; subnormals
** are normalized, as the C standard and musl do), hex digits, p, exponent. */
static int fmt_hex (const Spec *sp, uint64_t m, int e2, char *body) {
  const char *xd = sp->conv == 'A' ? "0123456789ABCDEF" : "0123456789abcdef";
  uint64_t frac, lead;
  int len = 0, e, nd, i, ae, ne = 0;
  char ex[8];
  if (m == 0) { lead = 0; frac = 0; e = 0; }
  else {
    while (!(m >> 52)) { m <<= 1; e2--; }
    lead = 1; frac = m & ((UINT64_C(1) << 52) - 1); e = e2 + 52;
  }
  nd = 13;
  if (sp->prec >= 0 && sp->prec < 13) {   /* round to prec hex digits, half to even */
    int drop = 4 * (13 - sp->prec);
    uint64_t v = (lead << 52) | frac, half = UINT64_C(1) << (drop - 1);
    uint64_t rest = v & ((UINT64_C(1) << drop) - 1);
    v >>= drop;
    if (rest > half || (rest == half && (v & 1))) v++;
    v <<= drop;
    lead = v >> 52; frac = v & ((UINT64_C(1) << 52) - 1);
    nd = sp->prec;
  } else if (sp->prec < 0) {
    while (nd > 0 && ((frac >> (4 * (13 - nd))) & 0xf) == 0) nd--;
  }
  body[len++] = '0';
  body[len++] = (char)(sp->conv == 'A' ? 'X' : 'x');
  body[len++] = xd[lead];
  if (nd > 0 || sp->prec > 0 || (sp->flags & FLAG_ALT)) body[len++] = '.';
  for (i = 1; i <= nd && i <= 13; i++) body[len++] = xd[(frac >> (4 * (13 - i))) & 0xf];
  for (; i <= sp->prec; i++) body[len++] = '0';
  body[len++] = (char)(sp->conv == 'A' ? 'P' : 'p');
  body[len++] = (char)(e < 0 ? '-' : '+');
  ae = e < 0 ? -e : e;
  do { ex[ne++] = (char)('0' + ae % 10); ae /= 10; } while (ae);
  while (ne > 0) body[len++] = ex[--ne];
  return len;
}

/* One double under a parsed conversion; returns snprintf's count. */
static int fmt_double (char *buf, size_t size, const Spec *sp, double x) {
  /* the largest body: %f of DBL_MAX at precision 99 (309 + 1 + 99) */
  char body[DIGITS_MAX + 128];
  uint64_t bits;
  int len, upper = sp->conv >= 'A' && sp->conv <= 'Z', zero_pad;
  unsigned biased;
  uint64_t m;
  const char *sign = "";
  Out o;
  memcpy(&bits, &x, sizeof bits);
  if (bits >> 63) sign = "-";
  else if (sp->flags & FLAG_PLUS) sign = "+";
  else if (sp->flags & FLAG_SPACE) sign = " ";
  biased = (unsigned)(bits >> 52) & 0x7ff;
  m = bits & ((UINT64_C(1) << 52) - 1);
  zero_pad = (sp->flags & FLAG_ZERO) && !(sp->flags & FLAG_LEFT);
  if (biased == 0x7ff) {   /* inf and nan: never zero-padded */
    memcpy(body, m ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3);
    len = 3;
    zero_pad = 0;
  } else {
    int e2 = biased ? (int)biased - 1075 : -1074;
    if (biased) m |= UINT64_C(1) << 52;
    len = ((sp->conv | 32) == 'a') ? fmt_hex(sp, m, e2, body) : fmt_decimal(sp, m, e2, body);
  }
  o.buf = buf; o.size = size; o.len = 0;
  {
    long sl = (long)strlen(sign), pad = sp->width - sl - len;
    int prefix = ((sp->conv | 32) == 'a' && biased != 0x7ff) ? 2 : 0;   /* 0x before zeros */
    if (!(sp->flags & FLAG_LEFT) && !zero_pad) putrep(&o, ' ', pad);
    put(&o, sign, (size_t)sl);
    put(&o, body, (size_t)prefix);
    if (zero_pad) putrep(&o, '0', pad);
    put(&o, body + prefix, (size_t)(len - prefix));
    if (sp->flags & FLAG_LEFT) putrep(&o, ' ', pad);
  }
  if (size > 0) buf[o.len < size ? o.len : size - 1] = '\0';
  return (int)o.len;
}

/* Parses "%[flags][width][.prec]C" making up all of fmt, C a float
** conversion; returns 0 if fmt is anything else. */
static int parse_float_spec (const char *fmt, Spec *sp) {
  const char *f = fmt;
  if (*f++ != '%') return 0;
  sp->flags = 0; sp->width = 0; sp->prec = -1;
  for (;; f++) {
    if (*f == '-') sp->flags |= FLAG_LEFT;
    else if (*f == '+') sp->flags |= FLAG_PLUS;
    else if (*f == ' ') sp->flags |= FLAG_SPACE;
    else if (*f == '#') sp->flags |= FLAG_ALT;
    else if (*f == '0') sp->flags |= FLAG_ZERO;
    else break;
  }
  for (; *f >= '0' && *f <= '9'; f++) {
    if (sp->width > 9999) return 0;
    sp->width = sp->width * 10 + (*f - '0');
  }
  if (*f == '.') {
    sp->prec = 0;
    for (f++; *f >= '0' && *f <= '9'; f++) {
      if (sp->prec > 9999) return 0;
      sp->prec = sp->prec * 10 + (*f - '0');
    }
  }
  if (sp->prec > 9999 || sp->width > 9999) return 0;
  if (!*f || !strchr("aAeEfFgG", *f) || f[1] != '\0') return 0;
  sp->conv = *f;
  return 1;
}

/* Parses "%[flags][width][.prec]llC" making up all of fmt, C an integer
** conversion (diouxX) of a long long: Lua's lua_Integer formats (lobject.c's
** "%lld", lstrlib.c's string.format); returns 0 if fmt is anything else. */
static int parse_int_spec (const char *fmt, Spec *sp) {
  size_t n = strlen(fmt);
  char tmp[32];
  if (n < 4 || n >= sizeof tmp || fmt[n - 3] != 'l' || fmt[n - 2] != 'l') return 0;
  if (!strchr("diouxX", fmt[n - 1])) return 0;
  memcpy(tmp, fmt, n - 3);   /* the spec without "ll", parsed as a float's */
  tmp[n - 3] = 'f'; tmp[n - 2] = '\0';
  if (!parse_float_spec(tmp, sp)) return 0;
  sp->conv = fmt[n - 1];
  return 1;
}

/* One long long under a parsed integer conversion, as C's printf does it:
** precision is the minimum of digits (0 of 0 prints none) and turns off
** the 0 flag; '#' adds "0x" to a nonzero %x and a leading 0 to %o. */
static int fmt_integer (char *buf, size_t size, const Spec *sp, long long v) {
  char digits[32];   /* 22 octal digits at most */
  const char *sign = "", *prefix = "";
  const char *hex = sp->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  unsigned long long u = (unsigned long long)v;
  unsigned base = (sp->conv == 'o') ? 8 : (sp->conv == 'x' || sp->conv == 'X') ? 16 : 10;
  int nd = 0, zeros, zero_pad;
  long body, pad;
  Out o;
  if (sp->conv == 'd' || sp->conv == 'i') {
    if (v < 0) { sign = "-"; u = 0 - u; }
    else if (sp->flags & FLAG_PLUS) sign = "+";
    else if (sp->flags & FLAG_SPACE) sign = " ";
  }
  for (; u != 0; u /= base) digits[nd++] = hex[u % base];
  zeros = (sp->prec < 0 ? 1 : sp->prec) - nd;   /* leading zeros for precision */
  if (zeros < 0) zeros = 0;
  if ((sp->flags & FLAG_ALT) && base == 16 && nd > 0) prefix = sp->conv == 'X' ? "0X" : "0x";
  if ((sp->flags & FLAG_ALT) && base == 8 && zeros == 0) zeros = 1;   /* first digit 0 */
  zero_pad = (sp->flags & FLAG_ZERO) && !(sp->flags & FLAG_LEFT) && sp->prec < 0;
  body = (long)(strlen(sign) + strlen(prefix)) + zeros + nd;
  pad = sp->width - body;
  o.buf = buf; o.size = size; o.len = 0;
  if (!(sp->flags & FLAG_LEFT) && !zero_pad) putrep(&o, ' ', pad);
  put(&o, sign, strlen(sign));
  put(&o, prefix, strlen(prefix));
  if (zero_pad) putrep(&o, '0', pad);
  putrep(&o, '0', zeros);
  while (nd > 0) { nd--; put(&o, &digits[nd], 1); }
  if (sp->flags & FLAG_LEFT) putrep(&o, ' ', pad);
  if (size > 0) buf[o.len < size ? o.len : size - 1] = '\0';
  return (int)o.len;
}

/* Formats one long long under fmt (a single integer conversion with the
** "ll" modifier); -1 if fmt is not one. For the tests. */
int lw_intfmt (char *buf, size_t size, const char *fmt, long long v) {
  Spec sp;
  if (!parse_int_spec(fmt, &sp) || sp.prec > 99 || sp.width > 99) return -1;
  return fmt_integer(buf, size, &sp, v);
}

/* Formats one double under fmt (a single float conversion); -1 if fmt is
** not one. For the tests and for lw_numfmt_sprintf. */
int lw_numfmt (char *buf, size_t size, const char *fmt, double x) {
  Spec sp;
  if (!parse_float_spec(fmt, &sp)) return -1;
  if (sp.prec > 99 || sp.width > 99) return -1;   /* Lua's checkformat limits */
  return fmt_double(buf, size, &sp, x);
}

/* A lone float or long long conversion here, anything else to vsnprintf:
** io.write's numbers (src/lw_stdio.h). */
int lw_numfmt_vsprintf (char *buf, size_t size, const char *fmt, va_list ap) {
  Spec sp;
  if (parse_float_spec(fmt, &sp) && sp.prec <= 99 && sp.width <= 99)
    return fmt_double(buf, size, &sp, va_arg(ap, double));
  if (parse_int_spec(fmt, &sp) && sp.prec <= 99 && sp.width <= 99)
    return fmt_integer(buf, size, &sp, va_arg(ap, long long));
  return vsnprintf(buf, size, fmt, ap);
}

/* Lua's l_sprintf (src/lua_user.h). */
int lw_numfmt_sprintf (char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  int r;
  va_start(ap, fmt);
  r = lw_numfmt_vsprintf(buf, size, fmt, ap);
  va_end(ap);
  return r;
}
