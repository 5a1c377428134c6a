// verifiers/math_num.cpp: exact/approximate arithmetic for the math verifier (GMP rationals, MPFR).
// Not here: parsing, extraction, equivalence policy. Complex support covers + - * / pow exp log sqrt.
#include "verifiers/math_num.h"

#include <cmath>
#include <cstring>

namespace zerorl::verifiers::math {
namespace {

constexpr mpfr_rnd_t kRnd = MPFR_RNDN;

bool finite_ok(const Num& n) { return mpfr_number_p(n.re.get()) && mpfr_number_p(n.im.get()); }
Num approx(const Num& a) {
  Num r = a;
  r.to_approx();
  return r;
}
Num finish(Num r) {
  if (!r.exact && (mpfr_nan_p(r.re.get()) || mpfr_nan_p(r.im.get()))) r.valid = false;
  return r;
}
long bits(mpq_srcptr q) {
  return static_cast<long>(mpz_sizeinbase(mpq_numref(q), 2) + mpz_sizeinbase(mpq_denref(q), 2));
}
// Complex exp/log on approximations.
Num cexp(const Num& a) {
  Num r;
  r.exact = false;
  Real m, c, s;
  mpfr_exp(m.get(), a.re.get(), kRnd);
  mpfr_sin_cos(s.get(), c.get(), a.im.get(), kRnd);
  if (mpfr_zero_p(a.im.get())) {
    mpfr_set(r.re.get(), m.get(), kRnd);
  } else {
    mpfr_mul(r.re.get(), m.get(), c.get(), kRnd);
    mpfr_mul(r.im.get(), m.get(), s.get(), kRnd);
  }
  return finish(r);
}
Num clog(const Num& a) {
  Num r;
  r.exact = false;
  if (mpfr_zero_p(a.re.get()) && mpfr_zero_p(a.im.get())) return Num::invalid();
  Real h;
  mpfr_hypot(h.get(), a.re.get(), a.im.get(), kRnd);
  mpfr_log(r.re.get(), h.get(), kRnd);
  mpfr_atan2(r.im.get(), a.im.get(), a.re.get(), kRnd);
  return finish(r);
}

}  // namespace

Num Num::invalid() {
  Num n;
  n.valid = false;
  return n;
}
Num Num::from_int(long v) {
  Num n;
  mpq_set_si(n.q.get(), v, 1);
  return n;
}
Num Num::from_real(double v) {
  Num n;
  n.exact = false;
  mpfr_set_d(n.re.get(), v, kRnd);
  return n;
}
Num Num::from_decimal(const std::string& text) {
  // digits [. digits] [e[+-]digits]; exponent bounded so 1e999999999 cannot allocate gigabytes.
  Num n;
  std::string mant;
  long scale = 0, exp10 = 0;
  size_t i = 0;
  bool after_dot = false;
  for (; i < text.size(); ++i) {
    char ch = text[i];
    if (ch >= '0' && ch <= '9') {
      mant += ch;
      if (after_dot) ++scale;
    } else if (ch == '.') {
      after_dot = true;
    } else {
      break;
    }
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    exp10 = std::strtol(text.c_str() + i + 1, nullptr, 10);
    if (exp10 > 20000 || exp10 < -20000) return invalid();
  }
  if (mant.empty() || mant.size() > 20000) return invalid();
  mpz_t num, den;
  mpz_init_set_str(num, mant.c_str(), 10);
  mpz_init(den);
  long shift = exp10 - scale;
  mpz_ui_pow_ui(den, 10, static_cast<unsigned long>(std::labs(shift)));
  if (shift >= 0) {
    mpz_mul(num, num, den);
    mpz_set_ui(den, 1);
  }
  mpq_set_num(n.q.get(), num);
  mpq_set_den(n.q.get(), den);
  mpq_canonicalize(n.q.get());
  mpz_clear(num);
  mpz_clear(den);
  return n;
}
Num Num::constant(const std::string& name) {
  Num n;
  n.exact = false;
  if (name == "pi") {
    mpfr_const_pi(n.re.get(), kRnd);
  } else if (name == "e") {
    mpfr_set_ui(n.re.get(), 1, kRnd);
    mpfr_exp(n.re.get(), n.re.get(), kRnd);
  } else if (name == "i") {
    mpfr_set_ui(n.im.get(), 1, kRnd);
  } else if (name == "inf") {
    mpfr_set_inf(n.re.get(), 1);
  } else {
    return invalid();
  }
  return n;
}
void Num::to_approx() {
  if (!exact) return;
  exact = false;
  mpfr_set_q(re.get(), q.get(), kRnd);
  mpfr_set_zero(im.get(), 1);
}
bool Num::is_real() const { return exact || mpfr_zero_p(im.get()); }
bool Num::is_integer() const { return exact && mpz_cmp_ui(mpq_denref(q.get()), 1) == 0; }
double Num::to_double() const { return exact ? mpq_get_d(q.get()) : mpfr_get_d(re.get(), kRnd); }

Num add(const Num& a, const Num& b) {
  if (!a.valid || !b.valid) return Num::invalid();
  Num r;
  if (a.exact && b.exact) {
    mpq_add(r.q.get(), a.q.get(), b.q.get());
    return r;
  }
  Num x = approx(a), y = approx(b);
  r.exact = false;
  mpfr_add(r.re.get(), x.re.get(), y.re.get(), kRnd);
  mpfr_add(r.im.get(), x.im.get(), y.im.get(), kRnd);
  return finish(r);
}
Num neg(const Num& a) {
  Num r = a;
  if (a.exact) {
    mpq_neg(r.q.get(), a.q.get());
  } else {
    mpfr_neg(r.re.get(), a.re.get(), kRnd);
    mpfr_neg(r.im.get(), a.im.get(), kRnd);
  }
  return r;
}
Num sub(const Num& a, const Num& b) { return add(a, neg(b)); }
Num mul(const Num& a, const Num& b) {
  if (!a.valid || !b.valid) return Num::invalid();
  Num r;
  if (a.exact && b.exact) {
    if (bits(a.q.get()) + bits(b.q.get()) > kMaxExactBits) return Num::invalid();
    mpq_mul(r.q.get(), a.q.get(), b.q.get());
    return r;
  }
  Num x = approx(a), y = approx(b);
  r.exact = false;
  Real t1, t2;
  mpfr_mul(t1.get(), x.re.get(), y.re.get(), kRnd);
  mpfr_mul(t2.get(), x.im.get(), y.im.get(), kRnd);
  mpfr_sub(r.re.get(), t1.get(), t2.get(), kRnd);
  mpfr_mul(t1.get(), x.re.get(), y.im.get(), kRnd);
  mpfr_mul(t2.get(), x.im.get(), y.re.get(), kRnd);
  mpfr_add(r.im.get(), t1.get(), t2.get(), kRnd);
  return finish(r);
}
Num div(const Num& a, const Num& b) {
  if (!a.valid || !b.valid) return Num::invalid();
  Num r;
  if (a.exact && b.exact) {
    if (mpq_sgn(b.q.get()) == 0) return Num::invalid();
    mpq_div(r.q.get(), a.q.get(), b.q.get());
    return r;
  }
  Num x = approx(a), y = approx(b);
  if (mpfr_zero_p(y.re.get()) && mpfr_zero_p(y.im.get())) return Num::invalid();
  Real d, t1, t2;
  mpfr_sqr(t1.get(), y.re.get(), kRnd);
  mpfr_sqr(t2.get(), y.im.get(), kRnd);
  mpfr_add(d.get(), t1.get(), t2.get(), kRnd);
  r.exact = false;
  mpfr_mul(t1.get(), x.re.get(), y.re.get(), kRnd);
  mpfr_mul(t2.get(), x.im.get(), y.im.get(), kRnd);
  mpfr_add(r.re.get(), t1.get(), t2.get(), kRnd);
  mpfr_div(r.re.get(), r.re.get(), d.get(), kRnd);
  mpfr_mul(t1.get(), x.im.get(), y.re.get(), kRnd);
  mpfr_mul(t2.get(), x.re.get(), y.im.get(), kRnd);
  mpfr_sub(r.im.get(), t1.get(), t2.get(), kRnd);
  mpfr_div(r.im.get(), r.im.get(), d.get(), kRnd);
  return finish(r);
}

namespace {
// Exact integer power when the result stays within kMaxExactBits.
bool exact_int_pow(const Num& a, long e, Num& out) {
  long b = bits(a.q.get());
  if (std::labs(e) > kMaxExactBits || b * std::labs(e) > kMaxExactBits) return false;
  if (e < 0 && mpq_sgn(a.q.get()) == 0) {
    out = Num::invalid();
    return true;
  }
  mpz_t n, d;
  mpz_init(n);
  mpz_init(d);
  unsigned long ue = static_cast<unsigned long>(std::labs(e));
  mpz_pow_ui(n, mpq_numref(a.q.get()), ue);
  mpz_pow_ui(d, mpq_denref(a.q.get()), ue);
  out = Num();
  if (e >= 0) {
    mpq_set_num(out.q.get(), n);
    mpq_set_den(out.q.get(), d);
  } else {
    mpq_set_num(out.q.get(), d);
    mpq_set_den(out.q.get(), n);
  }
  mpq_canonicalize(out.q.get());
  mpz_clear(n);
  mpz_clear(d);
  return true;
}
// Exact rational root when numerator and denominator are perfect n-th powers.
bool exact_root(const Num& a, unsigned long n, Num& out) {
  if (n == 0 || n > 64 || (mpq_sgn(a.q.get()) < 0 && n % 2 == 0)) return false;
  mpz_t rn, rd;
  mpz_init(rn);
  mpz_init(rd);
  bool ok = mpz_root(rn, mpq_numref(a.q.get()), n) != 0 && mpz_root(rd, mpq_denref(a.q.get()), n) != 0;
  if (ok) {
    out = Num();
    mpq_set_num(out.q.get(), rn);
    mpq_set_den(out.q.get(), rd);
    mpq_canonicalize(out.q.get());
  }
  mpz_clear(rn);
  mpz_clear(rd);
  return ok;
}
}  // namespace

Num root(const Num& a, long n) {
  if (!a.valid || n <= 0) return Num::invalid();
  Num out;
  if (a.exact && exact_root(a, static_cast<unsigned long>(n), out)) return out;
  Num x = approx(a);
  if (a.is_real() && (n % 2 == 1 || mpfr_sgn(x.re.get()) >= 0)) {
    Num r;
    r.exact = false;
    mpfr_rootn_ui(r.re.get(), x.re.get(), static_cast<unsigned long>(n), kRnd);
    return finish(r);
  }
  // Principal complex root.
  Num r = cexp(div(clog(x), Num::from_int(n)));
  return finite_ok(r) ? r : Num::invalid();
}

Num pow(const Num& a, const Num& b) {
  if (!a.valid || !b.valid) return Num::invalid();
  if (b.is_integer() && mpz_fits_slong_p(mpq_numref(b.q.get()))) {
    long e = mpz_get_si(mpq_numref(b.q.get()));
    Num out;
    if (a.exact && exact_int_pow(a, e, out)) return out;
    if (a.is_real()) {
      Num x = approx(a), r;
      r.exact = false;
      mpfr_pow_si(r.re.get(), x.re.get(), e, kRnd);
      if (!mpfr_number_p(r.re.get())) return Num::invalid();
      return finish(r);
    }
  }
  // Rational exponent p/q with odd q on a negative real: the real root (competition convention).
  if (b.exact && a.is_real() && mpz_cmpabs_ui(mpq_denref(b.q.get()), 64) <= 0 &&
      mpz_fits_slong_p(mpq_numref(b.q.get()))) {
    long p = mpz_get_si(mpq_numref(b.q.get()));
    long q = mpz_get_si(mpq_denref(b.q.get()));
    bool negative = a.exact ? mpq_sgn(a.q.get()) < 0 : mpfr_sgn(a.re.get()) < 0;
    if (q % 2 == 1 || !negative) {
      Num r = root(a, q);
      return pow(r, Num::from_int(p));
    }
  }
  Num x = approx(a), y = approx(b);
  if (mpfr_zero_p(x.re.get()) && mpfr_zero_p(x.im.get())) {
    if (y.is_real() && mpfr_sgn(y.re.get()) > 0) return Num::from_int(0);
    return Num::invalid();
  }
  if (x.is_real() && y.is_real() && mpfr_sgn(x.re.get()) > 0) {
    Num r;
    r.exact = false;
    mpfr_pow(r.re.get(), x.re.get(), y.re.get(), kRnd);
    if (!mpfr_number_p(r.re.get())) return Num::invalid();
    return finish(r);
  }
  Num r = cexp(mul(y, clog(x)));
  return finite_ok(r) ? r : Num::invalid();
}

Num factorial(const Num& a) {
  if (!a.is_integer() || mpq_sgn(a.q.get()) < 0 || mpz_cmp_ui(mpq_numref(a.q.get()), kMaxFactorial) > 0)
    return Num::invalid();
  Num r;
  mpz_t f;
  mpz_init(f);
  mpz_fac_ui(f, mpz_get_ui(mpq_numref(a.q.get())));
  mpq_set_z(r.q.get(), f);
  mpz_clear(f);
  return r;
}
Num binomial(const Num& n, const Num& k) {
  if (!n.is_integer() || !k.is_integer() || mpq_sgn(k.q.get()) < 0 || mpq_sgn(n.q.get()) < 0 ||
      mpz_cmp_ui(mpq_numref(n.q.get()), kMaxFactorial) > 0 ||
      mpz_cmp_ui(mpq_numref(k.q.get()), kMaxFactorial) > 0)
    return Num::invalid();
  Num r;
  mpz_t f;
  mpz_init(f);
  mpz_bin_uiui(f, mpz_get_ui(mpq_numref(n.q.get())), mpz_get_ui(mpq_numref(k.q.get())));
  mpq_set_z(r.q.get(), f);
  mpz_clear(f);
  return r;
}

Num apply_function(const std::string& name, const Num& a) {
  if (!a.valid) return Num::invalid();
  if (name == "exp") return cexp(approx(a));
  if (name == "ln" || name == "log") return clog(approx(a));
  if (name == "abs") {
    if (a.exact) {
      Num r = a;
      mpq_abs(r.q.get(), a.q.get());
      return r;
    }
    Num r;
    r.exact = false;
    mpfr_hypot(r.re.get(), a.re.get(), a.im.get(), kRnd);
    return r;
  }
  if (!a.is_real()) return Num::invalid();
  Num x = approx(a), r;
  r.exact = false;
  mpfr_ptr o = r.re.get();
  mpfr_srcptr v = x.re.get();
  if (name == "sin")
    mpfr_sin(o, v, kRnd);
  else if (name == "cos")
    mpfr_cos(o, v, kRnd);
  else if (name == "tan")
    mpfr_tan(o, v, kRnd);
  else if (name == "sec")
    mpfr_sec(o, v, kRnd);
  else if (name == "csc")
    mpfr_csc(o, v, kRnd);
  else if (name == "cot")
    mpfr_cot(o, v, kRnd);
  else if (name == "arcsin")
    mpfr_asin(o, v, kRnd);
  else if (name == "arccos")
    mpfr_acos(o, v, kRnd);
  else if (name == "arctan")
    mpfr_atan(o, v, kRnd);
  else if (name == "sinh")
    mpfr_sinh(o, v, kRnd);
  else if (name == "cosh")
    mpfr_cosh(o, v, kRnd);
  else if (name == "tanh")
    mpfr_tanh(o, v, kRnd);
  else if (name == "floor")
    mpfr_floor(o, v);
  else if (name == "ceil")
    mpfr_ceil(o, v);
  else
    return Num::invalid();
  if (!mpfr_number_p(o)) return Num::invalid();
  return r;
}

bool num_close(const Num& a, const Num& b, double rel, double abs_tol) {
  if (!a.valid || !b.valid) return false;
  if (a.exact && b.exact && rel == 0.0 && abs_tol == 0.0) return mpq_equal(a.q.get(), b.q.get()) != 0;
  if (a.exact && b.exact && mpq_equal(a.q.get(), b.q.get()) != 0) return true;
  Num x = approx(a), y = approx(b);
  if (mpfr_inf_p(x.re.get()) || mpfr_inf_p(y.re.get()))
    return mpfr_equal_p(x.re.get(), y.re.get()) && mpfr_zero_p(x.im.get()) && mpfr_zero_p(y.im.get());
  Num d = sub(x, y);
  Real dn, an, bn;
  mpfr_hypot(dn.get(), d.re.get(), d.im.get(), kRnd);
  mpfr_hypot(an.get(), x.re.get(), x.im.get(), kRnd);
  mpfr_hypot(bn.get(), y.re.get(), y.im.get(), kRnd);
  mpfr_max(an.get(), an.get(), bn.get(), kRnd);
  mpfr_mul_d(an.get(), an.get(), rel, kRnd);
  mpfr_add_d(an.get(), an.get(), abs_tol, kRnd);
  return mpfr_lessequal_p(dn.get(), an.get());
}

bool num_round_equal(const Num& a, const Num& b, int digits) {
  if (!a.valid || !b.valid || !a.is_real() || !b.is_real()) return false;
  Num x = approx(a), y = approx(b);
  Real s, rx, ry;
  mpfr_ui_pow_ui(s.get(), 10, static_cast<unsigned long>(digits), kRnd);
  mpfr_mul(rx.get(), x.re.get(), s.get(), kRnd);
  mpfr_mul(ry.get(), y.re.get(), s.get(), kRnd);
  mpfr_round(rx.get(), rx.get());
  mpfr_round(ry.get(), ry.get());
  return mpfr_equal_p(rx.get(), ry.get());
}

double num_abs(const Num& a) {
  if (!a.valid) return INFINITY;
  if (a.exact) return std::fabs(mpq_get_d(a.q.get()));
  return std::hypot(mpfr_get_d(a.re.get(), kRnd), mpfr_get_d(a.im.get(), kRnd));
}

}  // namespace zerorl::verifiers::math
