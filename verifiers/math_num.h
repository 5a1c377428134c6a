// verifiers/math_num.h: the number type the math verifier evaluates with: an exact GMP rational while an
// expression stays rational, else a 256-bit MPFR complex. Not here: parsing or comparison policy.
#pragma once

#include <gmp.h>
#include <mpfr.h>

#include <string>

namespace zerorl::verifiers::math {

constexpr mpfr_prec_t kPrecBits = 256;
// Work bounds: an exact result may hold at most this many bits; larger ones go approximate
// (MPFR's exponent range then turns 9^{9^{9^9}} into an overflow, i.e. an invalid number, in O(1)).
constexpr long kMaxExactBits = 200000;
constexpr long kMaxFactorial = 5000;

class Real {
 public:
  Real() {
    mpfr_init2(v_, kPrecBits);
    mpfr_set_zero(v_, 1);
  }
  Real(const Real& o) {
    mpfr_init2(v_, kPrecBits);
    mpfr_set(v_, o.v_, MPFR_RNDN);
  }
  Real& operator=(const Real& o) {
    mpfr_set(v_, o.v_, MPFR_RNDN);
    return *this;
  }
  ~Real() { mpfr_clear(v_); }
  mpfr_ptr get() { return v_; }
  mpfr_srcptr get() const { return v_; }

 private:
  mpfr_t v_;
};

class Rat {
 public:
  Rat() { mpq_init(v_); }
  Rat(const Rat& o) {
    mpq_init(v_);
    mpq_set(v_, o.v_);
  }
  Rat& operator=(const Rat& o) {
    mpq_set(v_, o.v_);
    return *this;
  }
  ~Rat() { mpq_clear(v_); }
  mpq_ptr get() { return v_; }
  mpq_srcptr get() const { return v_; }

 private:
  mpq_t v_;
};

// A value: exact rational (exact == true, in q) or complex approximation (re + i*im).
// valid == false means undefined/overflow (division by zero, log of 0, too big); comparisons with
// an invalid number are never "equal".
struct Num {
  bool valid = true;
  bool exact = true;
  Rat q;
  Real re, im;

  static Num invalid();
  static Num from_int(long v);
  static Num from_decimal(const std::string& digits);  // "12", "0.5", "1.5e-3": exact rational
  static Num from_real(double v);
  static Num constant(const std::string& name);  // "pi", "e", "i", "inf", "-inf"
  void to_approx();                              // make re/im hold the value
  bool is_real() const;
  bool is_integer() const;  // exact integer
  double to_double() const;
};

Num add(const Num& a, const Num& b);
Num sub(const Num& a, const Num& b);
Num mul(const Num& a, const Num& b);
Num div(const Num& a, const Num& b);
Num neg(const Num& a);
Num pow(const Num& a, const Num& b);
Num root(const Num& a, long n);  // real n-th root for odd n and negative reals
Num factorial(const Num& a);
Num binomial(const Num& n, const Num& k);
// Elementary functions by name (sin cos tan sec csc cot arcsin arccos arctan sinh cosh tanh exp ln
// log abs floor ceil); unknown name -> invalid.
Num apply_function(const std::string& name, const Num& a);

// Equal within |a-b| <= rel * max(|a|,|b|) + abs_tol; rel == abs_tol == 0 compares exact numbers exactly.
bool num_close(const Num& a, const Num& b, double rel, double abs_tol);
// Both rounded to `digits` decimals agree (Math-Verify's float_rounding semantics, real parts only).
bool num_round_equal(const Num& a, const Num& b, int digits);
// |a| as double (for scaling); +inf when invalid.
double num_abs(const Num& a);

}  // namespace zerorl::verifiers::math
