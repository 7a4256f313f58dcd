// Whether this test binary runs under AddressSanitizer or ThreadSanitizer (scripts/test
// --sanitize), for the few tests whose premise a sanitizer changes: an RLIMIT_AS far below
// the sanitizer's shadow reservations, RSS under a quarantine that keeps freed memory,
// LD_PRELOAD ahead of the sanitizer's runtime, copies slowed past their deadlines.
#ifndef FERRY_TESTS_SANITIZER_TEST_UTIL_H_
#define FERRY_TESTS_SANITIZER_TEST_UTIL_H_

namespace ferry::testing {

inline constexpr bool kUnderAddressSanitizer =
#if defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif

inline constexpr bool kUnderThreadSanitizer =
#if defined(__SANITIZE_THREAD__)
    true;
#else
    false;
#endif

inline constexpr bool kUnderSanitizer = kUnderAddressSanitizer || kUnderThreadSanitizer;

// How much longer work takes under this build's sanitizer, for the timeouts of tests that move
// tens of MiB through an instrumented worker (ThreadSanitizer runs such work 5-15x slower;
// ASan's slowdown fits the ordinary timeouts).
inline constexpr int kSanitizerSlowdown = kUnderThreadSanitizer ? 10 : 1;

}  // namespace ferry::testing

#endif  // FERRY_TESTS_SANITIZER_TEST_UTIL_H_
