// Tests of the device agent's file storage: file labels, SHA-256, the shared upload cache and
// session directories. Each test works in its own temp directory.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "device_agent/file_label.h"
#include "device_agent/session_directory.h"
#include "device_agent/sha256.h"
#include "device_agent/upload_cache.h"
#include "tests/agent_storage_test_util.h"

// In the fixture's namespace: StorageTest, fs and the constants (kOwner, kLimits, ...).
namespace ferry::agent::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// File labels

void ExpectBadLabel(std::string_view label, std::string_view message_part) {
  Status status = CheckFileLabel(label);
  ASSERT_FALSE(status.ok()) << "accepted label of " << label.size() << " bytes";
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(message_part), std::string::npos) << status.ToString();
}

TEST(FileLabelTest, AcceptsOrdinaryNames) {
  for (std::string_view label : {"model.so", "a", "resnet18-v2_int8.tar.gz", "-rf", "a b", "x..",
                                 "caf\xc3\xa9.bin", "a.b.c", "~"}) {
    EXPECT_TRUE(CheckFileLabel(label).ok()) << label << ": " << CheckFileLabel(label).ToString();
  }
  EXPECT_TRUE(CheckFileLabel(std::string(255, 'x')).ok());
}

TEST(FileLabelTest, RejectsPathsAndSpecialNames) {
  ExpectBadLabel("", "empty");
  ExpectBadLabel(".", "directory");
  ExpectBadLabel("..", "directory");
  ExpectBadLabel("../x", "starts with '.'");
  ExpectBadLabel("x/../../y", "path separator");
  ExpectBadLabel("/etc/passwd", "path separator");
  ExpectBadLabel("a/b", "path separator");
  ExpectBadLabel("a/", "path separator");
  ExpectBadLabel("a\\b", "path separator");
  ExpectBadLabel("..\\x", "starts with '.'");
  ExpectBadLabel(".hidden", "starts with '.'");
  ExpectBadLabel("..x", "starts with '.'");
  ExpectBadLabel(std::string("a\0b", 3), "NUL");
  ExpectBadLabel(std::string(1, '\0'), "NUL");
  ExpectBadLabel(std::string(256, 'x'), "256 bytes");
  ExpectBadLabel("a\nb", "control character");
  ExpectBadLabel("tab\there", "control character");
  ExpectBadLabel("esc\x1b[31m", "control character");
  ExpectBadLabel("del\x7f", "control character");
}

TEST(FileLabelTest, MessageEscapesControlCharacters) {
  Status status = CheckFileLabel("a\nb");
  EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("\\x0a"), std::string::npos) << status.message();
}

// ---------------------------------------------------------------------------------------------
// SHA-256

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha);
  EXPECT_EQ(Sha256Hex("abc"), kAbcSha);
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, StreamingEqualsOneShot) {
  std::string data;
  for (uint32_t i = 0; i < 100000; ++i) data += static_cast<char>((i * 131 + 7) % 256);
  const std::string expected = Sha256Hex(data);
  for (size_t piece : {size_t{1}, size_t{3}, size_t{64}, size_t{1000}, size_t{65537}}) {
    Sha256 hash;
    for (size_t at = 0; at < data.size(); at += piece) {
      hash.Update(std::string_view(data).substr(at, piece));
    }
    EXPECT_EQ(hash.FinishHex(), expected) << "pieces of " << piece;
  }
}

TEST(Sha256Test, FinishStartsOver) {
  Sha256 hash;
  hash.Update("ab");
  hash.Update("");
  hash.Update("c");
  EXPECT_EQ(hash.FinishHex(), kAbcSha);
  EXPECT_EQ(hash.FinishHex(), kEmptySha);
  hash.Update("abc");
  Sha256 moved = std::move(hash);
  EXPECT_EQ(moved.FinishHex(), kAbcSha);
}

TEST(Sha256Test, IsSha256Hex) {
  EXPECT_TRUE(IsSha256Hex(kEmptySha));
  EXPECT_TRUE(IsSha256Hex(std::string(64, '0')));
  EXPECT_FALSE(IsSha256Hex(""));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(65, 'a')));
  std::string upper(kEmptySha);
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_FALSE(IsSha256Hex(upper));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a') + "g"));
  EXPECT_FALSE(IsSha256Hex(std::string(62, 'a') + "/x"));
}

// ---------------------------------------------------------------------------------------------
// Upload cache

TEST_F(StorageTest, OpenCreatesTheDirectory) {
  StatusOr<UploadCache> cache = UploadCache::Open(dir_ + "/a/b/cache");
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  EXPECT_TRUE(fs::is_directory(dir_ + "/a/b/cache"));
  EXPECT_EQ(UploadCache::Open("").status().code(), StatusCode::kInvalidArgument);
  Write(dir_ + "/file", "x");
  EXPECT_FALSE(UploadCache::Open(dir_ + "/file").ok());
}

TEST_F(StorageTest, UploadHappyPath) {
  UploadCache cache = OpenCache();
  const std::string data = "the bytes of a model library, more than one chunk long";
  const std::string digest = Sha256Hex(data);
  EXPECT_FALSE(cache.Contains(kOwner, digest));

  StatusOr<std::unique_ptr<PendingUpload>> upload =
      cache.Begin(kOwner, digest, data.size(), kLimits);
  ASSERT_TRUE(upload.ok()) << upload.status().ToString();
  PendingUpload& pending = **upload;
  EXPECT_EQ(pending.received(), 0u);
  EXPECT_EQ(pending.size(), data.size());
  ASSERT_TRUE(pending.Append(0, data.substr(0, 10)).ok());
  EXPECT_EQ(pending.received(), 10u);
  ASSERT_TRUE(pending.Append(10, "").ok());
  ASSERT_TRUE(pending.Append(10, data.substr(10)).ok());
  EXPECT_EQ(pending.received(), data.size());
  EXPECT_FALSE(cache.Contains(kOwner, digest)) << "visible before Finish";

  StatusOr<std::string> path = pending.Finish();
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, cache.PathFor(kOwner, digest));
  EXPECT_EQ(*path, dir_ + "/cache/" + kOwner + "/" + digest);
  EXPECT_TRUE(cache.Contains(kOwner, digest));
  EXPECT_EQ(Read(*path), data);
  EXPECT_EQ(Entries(cache.root()), std::vector<std::string>{kOwner});
  EXPECT_EQ(Cached(cache), std::vector<std::string>{digest});
  struct stat info;
  ASSERT_EQ(::stat(path->c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0222, 0u) << "cached files are read-only";

  EXPECT_EQ(pending.Append(data.size(), "x").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(pending.Finish().status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(StorageTest, EmptyUpload) {
  UploadCache cache = OpenCache();
  StatusOr<std::string> path = Upload(cache, "");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_TRUE(cache.Contains(kOwner, kEmptySha));
  EXPECT_EQ(Read(*path), "");
}

TEST_F(StorageTest, DigestMismatchStoresNothing) {
  UploadCache cache = OpenCache();
  const std::string claimed = Sha256Hex("what the client said");
  StatusOr<std::unique_ptr<PendingUpload>> upload = cache.Begin(kOwner, claimed, 3, kLimits);
  ASSERT_TRUE(upload.ok()) << upload.status().ToString();
  ASSERT_TRUE((*upload)->Append(0, "abc").ok());
  EXPECT_EQ(Temps(cache).size(), 1u) << "the temp file exists while uploading";

  StatusOr<std::string> path = (*upload)->Finish();
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(path.status().message(),
            "upload digest mismatch: expected " + claimed + ", got " + kAbcSha);
  EXPECT_FALSE(cache.Contains(kOwner, claimed));
  EXPECT_FALSE(cache.Contains(kOwner, kAbcSha));
  EXPECT_TRUE(Temps(cache).empty()) << "stray files left in the cache";
  EXPECT_TRUE(Cached(cache).empty()) << "stray files left in the cache";
  EXPECT_EQ((*upload)->Append(3, "").code(), StatusCode::kFailedPrecondition);
  upload->reset();
  EXPECT_TRUE(Temps(cache).empty());
}

TEST_F(StorageTest, OutOfOrderOffsetIsRejected) {
  UploadCache cache = OpenCache();
  std::unique_ptr<PendingUpload> upload = *cache.Begin(kOwner, kAbcSha, 3, kLimits);
  Status status = upload->Append(1, "bc");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("expected offset 0"), std::string::npos) << status.ToString();
  ASSERT_TRUE(upload->Append(0, "a").ok());
  EXPECT_EQ(upload->Append(0, "a").code(), StatusCode::kInvalidArgument) << "overlap";
  EXPECT_EQ(upload->Append(2, "c").code(), StatusCode::kInvalidArgument) << "gap";
  EXPECT_EQ(upload->received(), 1u);
  // The upload survives rejected chunks.
  ASSERT_TRUE(upload->Append(1, "bc").ok());
  StatusOr<std::string> path = upload->Finish();
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(Read(*path), "abc");
}

TEST_F(StorageTest, TooManyBytesAreRejected) {
  UploadCache cache = OpenCache();
  std::unique_ptr<PendingUpload> upload = *cache.Begin(kOwner, kAbcSha, 3, kLimits);
  ASSERT_TRUE(upload->Append(0, "ab").ok());
  Status status = upload->Append(2, "cd");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("declared size"), std::string::npos) << status.ToString();
  EXPECT_EQ(upload->received(), 2u);
}

TEST_F(StorageTest, IncompleteFinishKeepsTheUploadOpen) {
  UploadCache cache = OpenCache();
  std::unique_ptr<PendingUpload> upload = *cache.Begin(kOwner, kAbcSha, 3, kLimits);
  ASSERT_TRUE(upload->Append(0, "ab").ok());
  StatusOr<std::string> early = upload->Finish();
  EXPECT_EQ(early.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(early.status().message().find("received 2 of 3"), std::string::npos);
  ASSERT_TRUE(upload->Append(2, "c").ok());
  EXPECT_TRUE(upload->Finish().ok());
  EXPECT_TRUE(cache.Contains(kOwner, kAbcSha));
}

TEST_F(StorageTest, BeginValidatesDigestAndSize) {
  UploadCache cache = OpenCache();
  EXPECT_EQ(cache.Begin(kOwner, "abc", 3, kLimits).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Begin(kOwner, "../../etc/passwd", 3, kLimits).status().code(),
            StatusCode::kInvalidArgument);
  std::string upper(kAbcSha);
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_EQ(cache.Begin(kOwner, upper, 3, kLimits).status().code(), StatusCode::kInvalidArgument);
  StatusOr<std::unique_ptr<PendingUpload>> big =
      cache.Begin(kOwner, kAbcSha, 1001, {.max_upload_bytes = 1000});
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted) << big.status().ToString();
  EXPECT_TRUE(cache.Begin(kOwner, kAbcSha, 1000, {.max_upload_bytes = 1000}).ok());
  EXPECT_TRUE(Temps(cache).empty()) << "the unfinished upload's temp file remains";
}

TEST_F(StorageTest, DestroyingAnUnfinishedUploadRemovesItsTempFile) {
  UploadCache cache = OpenCache();
  {
    std::unique_ptr<PendingUpload> upload = *cache.Begin(kOwner, kAbcSha, 3, kLimits);
    ASSERT_TRUE(upload->Append(0, "ab").ok());
    EXPECT_EQ(Temps(cache).size(), 1u);
  }
  EXPECT_TRUE(Temps(cache).empty());
  EXPECT_TRUE(Cached(cache).empty());
  EXPECT_FALSE(cache.Contains(kOwner, kAbcSha));
}

TEST_F(StorageTest, ContainsAndPathForRejectNonDigests) {
  UploadCache cache = OpenCache();
  Write(cache.root() + "/notadigest", "x");
  EXPECT_FALSE(cache.Contains(kOwner, "notadigest"));
  EXPECT_FALSE(cache.Contains(kOwner, "../cache/notadigest"));
  EXPECT_FALSE(cache.Contains(kOwner, ""));
  EXPECT_THROW(cache.PathFor(kOwner, "../x"), CheckError);
  ASSERT_TRUE(Upload(cache, "abc").ok());
  EXPECT_TRUE(cache.Contains(kOwner, kAbcSha));
}

TEST_F(StorageTest, ReuploadingReplacesAnIdenticalFile) {
  UploadCache cache = OpenCache();
  ASSERT_TRUE(Upload(cache, "abc").ok());
  StatusOr<std::string> again = Upload(cache, "abc", 1);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Read(*again), "abc");
  EXPECT_EQ(Cached(cache), std::vector<std::string>{kAbcSha});
  EXPECT_TRUE(Temps(cache).empty());
}

TEST_F(StorageTest, ConcurrentIdenticalUploadsBothSucceed) {
  UploadCache cache = OpenCache();
  std::string data;
  for (uint32_t i = 0; i < (1u << 20); ++i) data += static_cast<char>((i * 7919u) >> 3);
  const std::string digest = Sha256Hex(data);
  constexpr int kThreads = 4;
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      UploadCache mine = cache;  // each worker has its own handle on the same directory
      StatusOr<std::string> path = Upload(mine, data, 4096 + t);
      results[t] = path.ok() ? Status::Ok() : path.status();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(results[t].ok()) << results[t].ToString();
  EXPECT_TRUE(cache.Contains(kOwner, digest));
  EXPECT_EQ(Read(cache.PathFor(kOwner, digest)), data);
  EXPECT_EQ(Cached(cache), std::vector<std::string>{digest});
  EXPECT_TRUE(Temps(cache).empty());
}

// ---------------------------------------------------------------------------------------------
// Session directories

TEST_F(StorageTest, SessionDirectoryAddListRemovePathOf) {
  UploadCache cache = OpenCache();
  const std::string model = *Upload(cache, "model bytes");
  const std::string params = *Upload(cache, "params!");

  StatusOr<SessionDirectory> made = SessionDirectory::Create(dir_ + "/sessions", "s1");
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  SessionDirectory session = *std::move(made);
  EXPECT_EQ(session.path(), dir_ + "/sessions/s1");
  EXPECT_TRUE(fs::is_directory(session.path()));
  EXPECT_TRUE(session.List().empty());

  ASSERT_TRUE(session.AddFile("model.so", model).ok());
  ASSERT_TRUE(session.AddFile("b.params", params).ok());
  using FileInfo = SessionDirectory::FileInfo;
  EXPECT_EQ(session.List(), (std::vector<FileInfo>{{"b.params", 7}, {"model.so", 11}}));

  StatusOr<std::string> path = session.PathOf("model.so");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, session.path() + "/model.so");
  EXPECT_EQ(Read(*path), "model bytes");
  struct stat cached_info, session_info;
  ASSERT_EQ(::stat(model.c_str(), &cached_info), 0);
  ASSERT_EQ(::stat(path->c_str(), &session_info), 0);
  EXPECT_EQ(cached_info.st_ino, session_info.st_ino) << "expected a hard link";

  EXPECT_EQ(session.PathOf("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(session.PathOf("../s1/model.so").status().code(), StatusCode::kInvalidArgument);

  // Replacing a label.
  ASSERT_TRUE(session.AddFile("model.so", params).ok());
  EXPECT_EQ(Read(*session.PathOf("model.so")), "params!");
  EXPECT_EQ(session.List(), (std::vector<FileInfo>{{"b.params", 7}, {"model.so", 7}}));
  EXPECT_EQ(Read(model), "model bytes") << "the cache is untouched";

  ASSERT_TRUE(session.Remove("model.so").ok());
  EXPECT_EQ(session.Remove("model.so").code(), StatusCode::kNotFound);
  EXPECT_EQ(session.PathOf("model.so").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(session.List(), (std::vector<FileInfo>{{"b.params", 7}}));
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex("model bytes")))
      << "removing a label keeps the cache";
  EXPECT_EQ(Entries(session.path()), std::vector<std::string>{"b.params"}) << "no temp files";
}

TEST_F(StorageTest, SessionDirectoryIsRemovedWithEverythingInIt) {
  UploadCache cache = OpenCache();
  const std::string model = *Upload(cache, "model bytes");
  std::string path;
  {
    SessionDirectory session = *SessionDirectory::Create(dir_ + "/sessions", "s2");
    path = session.path();
    ASSERT_TRUE(session.AddFile("model.so", model).ok());
    fs::create_directories(path + "/work/deeper");
    Write(path + "/work/deeper/out.txt", "written by the session");
    SessionDirectory moved = std::move(session);
    EXPECT_TRUE(session.path().empty());
    EXPECT_EQ(moved.path(), path);
    EXPECT_TRUE(fs::exists(path)) << "a moved-from directory removes nothing";
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::is_directory(dir_ + "/sessions"));
  EXPECT_EQ(Read(model), "model bytes") << "the cached file survives the session";
}

TEST_F(StorageTest, SessionDirectoryRejectsBadIdsAndLabels) {
  UploadCache cache = OpenCache();
  const std::string model = *Upload(cache, "model bytes");
  for (std::string id : {"", "..", ".", "../x", "a/b", "/tmp"}) {
    StatusOr<SessionDirectory> session = SessionDirectory::Create(dir_ + "/sessions", id);
    EXPECT_EQ(session.status().code(), StatusCode::kInvalidArgument) << "id " << id;
  }
  SessionDirectory session = *SessionDirectory::Create(dir_ + "/sessions", "s3");
  EXPECT_EQ(SessionDirectory::Create(dir_ + "/sessions", "s3").status().code(),
            StatusCode::kInvalidArgument)
      << "a second session with the same id";
  const std::vector<std::string> bad_labels = {"",
                                               "..",
                                               ".",
                                               "../x",
                                               "/etc/passwd",
                                               "a/b",
                                               ".hidden",
                                               std::string("a\0b", 3),
                                               std::string(256, 'x'),
                                               "a\rb"};
  for (const std::string& label : bad_labels) {
    Status status = session.AddFile(label, model);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
    EXPECT_EQ(session.PathOf(label).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(session.Remove(label).code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(session.List().empty());
  EXPECT_FALSE(fs::exists(dir_ + "/x"));
  EXPECT_EQ(session.AddFile("model.so", cache.PathFor(kOwner, kEmptySha)).code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(Entries(session.path()).empty()) << "no temp files";
}

TEST_F(StorageTest, SessionDirectoryIgnoresLinksDirectoriesAndHiddenFiles) {
  SessionDirectory session = *SessionDirectory::Create(dir_ + "/sessions", "s4");
  Write(dir_ + "/secret", "not for the session");
  ASSERT_EQ(::symlink((dir_ + "/secret").c_str(), (session.path() + "/link").c_str()), 0);
  fs::create_directory(session.path() + "/subdir");
  Write(session.path() + "/.hidden", "x");
  Write(session.path() + "/plain", "1234");

  using FileInfo = SessionDirectory::FileInfo;
  EXPECT_EQ(session.List(), (std::vector<FileInfo>{{"plain", 4}}));
  EXPECT_EQ(session.PathOf("link").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(session.PathOf("subdir").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(session.PathOf("plain").ok());
  EXPECT_EQ(session.Remove("subdir").code(), StatusCode::kNotFound);
  ASSERT_TRUE(session.Remove("link").ok());
  EXPECT_EQ(Read(dir_ + "/secret"), "not for the session") << "Remove unlinks the link only";

  // A label that names a directory cannot be replaced by a file.
  UploadCache cache = OpenCache();
  const std::string model = *Upload(cache, "model bytes");
  EXPECT_EQ(session.AddFile("subdir", model).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Entries(session.path()), (std::vector<std::string>{".hidden", "plain", "subdir"}));
}

TEST_F(StorageTest, SessionDirectoryCopiesAcrossFileSystems) {
  // The cache on /dev/shm (tmpfs) and the session under the test's temp dir: link() fails with
  // EXDEV and AddFile falls back to a copy.
  struct stat shm, tmp;
  if (::stat("/dev/shm", &shm) != 0 || ::stat(dir_.c_str(), &tmp) != 0 ||
      shm.st_dev == tmp.st_dev) {
    GTEST_SKIP() << "no second file system to copy across";
  }
  std::string pattern = "/dev/shm/ferry-agent-cache-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  StatusOr<UploadCache> cache = UploadCache::Open(pattern);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  StatusOr<std::string> model = Upload(*cache, "model bytes");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  {
    SessionDirectory session = *SessionDirectory::Create(dir_ + "/sessions", "s5");
    Status added = session.AddFile("model.so", *model);
    EXPECT_TRUE(added.ok()) << added.ToString();
    EXPECT_EQ(Read(*session.PathOf("model.so")), "model bytes");
    EXPECT_EQ(Entries(session.path()), std::vector<std::string>{"model.so"});
  }
  std::error_code ignored;
  fs::remove_all(pattern, ignored);
}

TEST_F(StorageTest, SessionDirectoryMoveAssignmentRemovesTheOldDirectory) {
  SessionDirectory a = *SessionDirectory::Create(dir_ + "/sessions", "a");
  SessionDirectory b = *SessionDirectory::Create(dir_ + "/sessions", "b");
  const std::string a_path = a.path();
  a = std::move(b);
  EXPECT_FALSE(fs::exists(a_path));
  EXPECT_EQ(a.path(), dir_ + "/sessions/b");
  EXPECT_TRUE(fs::exists(a.path()));
  EXPECT_THROW((void)b.PathOf("x"), CheckError);
}

}  // namespace
}  // namespace ferry::agent::testing
