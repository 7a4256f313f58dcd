// Element functions written so that loops over them vectorise (no library calls, no
// branches), for the kernels whose time goes into them. Internal to ferry_kernels.
#ifndef FERRY_RUNTIME_KERNELS_VECTOR_MATH_H_
#define FERRY_RUNTIME_KERNELS_VECTOR_MATH_H_

#include <stdint.h>

#include <bit>

namespace ferry::kernels::internal {

// e^x in float, within 2 ulp of the correctly rounded value for x in [-87, 88] (checked
// against std::exp in kernels_numeric_test); 0 below about -103.97, +inf above 88.72, NaN
// for NaN. The usual reduction: x = n ln 2 + r with |r| <= ln 2 / 2 (ln 2 in two parts), a
// degree-6 polynomial for e^r, then the exponent n put into the result's bits in two steps so
// that results down to the subnormal range keep their precision.
inline float VectorExp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;       // ln 2's leading bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;    // ln 2 - kLn2Hi
  // Beyond these e^x is 0 or +inf in float; NaN passes both comparisons unchanged.
  x = x < -104.0f ? -104.0f : x;
  x = x > 89.0f ? 89.0f : x;
  // Rounded to the nearest integer by adding and removing 1.5 * 2^23 (SSE2 has no vector
  // round); NaN becomes 0 here so that the conversion below is defined (r stays NaN).
  constexpr float kRound = 12582912.0f;
  float n = (x * kLog2e + kRound) - kRound;
  n = n == n ? n : 0.0f;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  // e^r on [-ln2/2, ln2/2] (Cephes' expf coefficients).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // p * 2^n as p * 2^(n - h) * 2^h with both factors normal floats (n is within [-150, 129]).
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t h = ni >> 1;  // floor(n / 2), so that both factors are normal
  return p * std::bit_cast<float>((ni - h + 127) << 23) * std::bit_cast<float>((h + 127) << 23);
}

}  // namespace ferry::kernels::internal

#endif  // FERRY_RUNTIME_KERNELS_VECTOR_MATH_H_
