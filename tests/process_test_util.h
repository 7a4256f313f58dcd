// Helpers for tests that start and stop real Ferry processes: bounded polling, shell quoting,
// and stopping a child within a deadline.
#ifndef FERRY_TESTS_PROCESS_TEST_UTIL_H_
#define FERRY_TESTS_PROCESS_TEST_UTIL_H_

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace ferry::testing {

// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// `s` as one single-quoted shell word.
inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Sends SIGTERM, then SIGKILL when the child has not exited after 5 s; reaps it.
inline void StopChild(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  if (!WaitFor([&] { return waitpid(pid, nullptr, WNOHANG) != 0; }, std::chrono::seconds(5))) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

}  // namespace ferry::testing

#endif  // FERRY_TESTS_PROCESS_TEST_UTIL_H_
