// Shared by the agent storage tests: a fixture with a fresh directory per test and helpers to
// upload into an UploadCache and look at what is on disk.
#ifndef FERRY_TESTS_AGENT_STORAGE_TEST_UTIL_H_
#define FERRY_TESTS_AGENT_STORAGE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "device_agent/sha256.h"
#include "device_agent/upload_cache.h"

namespace ferry::agent::testing {

namespace fs = std::filesystem;

inline constexpr uint64_t kMaxSize = uint64_t{1} << 30;
inline constexpr StorageLimits kLimits{.max_upload_bytes = kMaxSize};
// The owner the tests upload as unless they say otherwise: a key fingerprint's form.
inline constexpr char kOwner[] = "0123456789abcdef";
// SHA-256 of "" and of "abc".
inline constexpr char kEmptySha[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr char kAbcSha[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// ---------------------------------------------------------------------------------------------
// StorageTest: a fresh directory per test, and helpers to look into it.

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir();
    if (pattern.empty() || pattern.back() != '/') pattern += '/';
    pattern += "ferry-agent-storage-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    ASSERT_NE(made, nullptr);
    dir_ = made;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // The names in `path`, sorted (hidden ones included).
  static std::vector<std::string> Entries(const std::string& path) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  static void Write(const std::string& path, std::string_view data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }

  // The names in the owner's namespace of `cache` (none when it does not exist).
  static std::vector<std::string> Cached(const UploadCache& cache,
                                         std::string_view owner = kOwner) {
    const std::string path = cache.root() + "/" + std::string(owner);
    return fs::is_directory(path) ? Entries(path) : std::vector<std::string>{};
  }

  // The upload temp files in `cache`.
  static std::vector<std::string> Temps(const UploadCache& cache) {
    std::vector<std::string> names = Entries(cache.root());
    std::erase_if(names, [](const std::string& n) { return n.rfind(".upload-", 0) != 0; });
    return names;
  }

  UploadCache OpenCache() {
    StatusOr<UploadCache> cache = UploadCache::Open(dir_ + "/cache");
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    return *std::move(cache);
  }

  // Uploads `data` in chunks of `chunk` bytes into owner's namespace and returns the cache path.
  static StatusOr<std::string> Upload(UploadCache& cache, std::string_view data, size_t chunk = 7,
                                      std::string_view owner = kOwner,
                                      const StorageLimits& limits = kLimits) {
    ASSIGN_OR_RETURN(std::unique_ptr<PendingUpload> upload,
                     cache.Begin(owner, Sha256Hex(data), data.size(), limits));
    for (size_t at = 0; at < data.size(); at += chunk) {
      RETURN_IF_ERROR(upload->Append(at, data.substr(at, chunk)));
    }
    return upload->Finish();
  }

  std::string dir_;
};

}  // namespace ferry::agent::testing

#endif  // FERRY_TESTS_AGENT_STORAGE_TEST_UTIL_H_
