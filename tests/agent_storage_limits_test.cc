// Tests of what the agent's storage refuses or cleans up: owner namespaces in the upload cache,
// the declared size on a cache hit, upload temp files of dead workers, the cache size limit with
// LRU eviction, the per-session quota, and load paths that follow a label's content.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "device_agent/agent_session_files.h"
#include "device_agent/session_directory.h"
#include "device_agent/sha256.h"
#include "device_agent/upload_cache.h"
#include "tests/agent_storage_test_util.h"

// In the fixture's namespace: StorageTest, fs and the constants (kOwner, kLimits, ...).
namespace ferry::agent::testing {
namespace {

constexpr char kOtherOwner[] = "fedcba9876543210";

// Sets the last-use time (mtime) of `path` to `seconds` after the epoch.
void SetUsed(const std::string& path, time_t seconds) {
  const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

time_t UsedAt(const std::string& path) {
  struct stat info;
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mtim.tv_sec;
}

ino_t Inode(const std::string& path) {
  struct stat info;
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_ino;
}

// Uploads `data` under `label` through `files`, in one chunk unless it is a cache hit. Returns
// whether it was a hit.
StatusOr<bool> UploadTo(AgentSessionFiles& files, std::string_view label, std::string_view data) {
  ASSIGN_OR_RETURN(bool hit, files.BeginUpload(label, Sha256Hex(data), data.size()));
  if (hit) return true;
  RETURN_IF_ERROR(files.AppendUpload(label, 0, data));
  RETURN_IF_ERROR(files.FinishUpload(label));
  return false;
}

class StorageLimitsTest : public StorageTest {
 protected:
  // A session `id` of `owner` on the fixture's cache.
  std::unique_ptr<AgentSessionFiles> Session(const std::string& id, std::string owner = kOwner,
                                             StorageLimits limits = kLimits) {
    StatusOr<SessionDirectory> directory = SessionDirectory::Create(dir_ + "/sessions", id);
    EXPECT_TRUE(directory.ok()) << directory.status().ToString();
    return std::make_unique<AgentSessionFiles>(OpenCache(), std::move(owner), *std::move(directory),
                                               limits);
  }
};

// ---------------------------------------------------------------------------------------------
// Owner namespaces (finding 4: a digest alone used to be enough to get another session's file)

TEST_F(StorageLimitsTest, OwnerMustBeAPlainName) {
  for (std::string_view owner : {"anonymous", "0123456789abcdef", "a", "key-1_b"}) {
    EXPECT_TRUE(CheckCacheOwner(owner).ok()) << owner << ": " << CheckCacheOwner(owner).ToString();
  }
  EXPECT_TRUE(CheckCacheOwner(std::string(kMaxCacheOwnerBytes, 'a')).ok());
  UploadCache cache = OpenCache();
  const std::vector<std::string> bad = {"",
                                        ".",
                                        "..",
                                        "../x",
                                        "a/b",
                                        "/etc",
                                        ".lock",
                                        ".upload-1",
                                        "ABCD",
                                        "a b",
                                        "a\\b",
                                        std::string("a\0b", 3),
                                        std::string(kMaxCacheOwnerBytes + 1, 'a')};
  for (const std::string& owner : bad) {
    SCOPED_TRACE(owner);
    EXPECT_EQ(CheckCacheOwner(owner).code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(cache.Contains(owner, kAbcSha));
    EXPECT_THROW((void)cache.PathFor(owner, kAbcSha), CheckError);
    EXPECT_EQ(cache.Lookup(owner, kAbcSha, 3).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(cache.Begin(owner, kAbcSha, 3, kLimits).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(Entries(cache.root()), std::vector<std::string>{}) << "nothing was created";
  StatusOr<SessionDirectory> directory = SessionDirectory::Create(dir_ + "/sessions", "s");
  ASSERT_TRUE(directory.ok());
  EXPECT_THROW(AgentSessionFiles(cache, "../other", *std::move(directory), kLimits), CheckError);
}

TEST_F(StorageLimitsTest, LookupFindsOnlyTheOwnersContent) {
  UploadCache cache = OpenCache();
  ASSERT_TRUE(Upload(cache, "abc").ok());
  StatusOr<std::string> mine = cache.Lookup(kOwner, kAbcSha, 3);
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  EXPECT_EQ(*mine, cache.root() + "/" + kOwner + "/" + kAbcSha);
  EXPECT_EQ(cache.Lookup(kOtherOwner, kAbcSha, 3).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(cache.Contains(kOtherOwner, kAbcSha));
  EXPECT_EQ(cache.Lookup(kOwner, Sha256Hex("abd"), 3).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(cache.Lookup(kOwner, "not-a-digest", 3).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StorageLimitsTest, LookupChecksTheDeclaredSizeAndMarksUse) {
  UploadCache cache = OpenCache();
  ASSERT_TRUE(Upload(cache, "abc").ok());
  const std::string path = cache.PathFor(kOwner, kAbcSha);
  SetUsed(path, 1000);
  for (uint64_t size : {uint64_t{0}, uint64_t{2}, uint64_t{4}, ~uint64_t{0}}) {
    StatusOr<std::string> wrong = cache.Lookup(kOwner, kAbcSha, size);
    EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument) << wrong.status().ToString();
    EXPECT_NE(wrong.status().message().find("declared size " + std::to_string(size) +
                                            " differs from the cached content's size 3"),
              std::string::npos)
        << wrong.status().message();
  }
  EXPECT_EQ(UsedAt(path), 1000) << "a refused lookup is no use";
  ASSERT_TRUE(cache.Lookup(kOwner, kAbcSha, 3).ok());
  EXPECT_GT(UsedAt(path), 1000);
}

TEST_F(StorageLimitsTest, ADigestFromAnotherOwnerIsNoHit) {
  const std::string secret = "another client's model library";
  std::unique_ptr<AgentSessionFiles> alice = Session("alice", kOwner);
  ASSERT_EQ(UploadTo(*alice, "model.so", secret).value(), false);

  // Bob knows the digest and size, but not the bytes.
  std::unique_ptr<AgentSessionFiles> bob = Session("bob", kOtherOwner);
  StatusOr<bool> begun = bob->BeginUpload("stolen.so", Sha256Hex(secret), secret.size());
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  EXPECT_FALSE(*begun) << "another owner's content answered as a cache hit";
  EXPECT_EQ(bob->PathOf("stolen.so").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(bob->List().value().empty());
  StatusOr<std::string> unfinished = bob->LoadPathOf("stolen.so");
  EXPECT_EQ(unfinished.status().code(), StatusCode::kNotFound);
  Status finish = bob->FinishUpload("stolen.so");
  EXPECT_EQ(finish.code(), StatusCode::kInvalidArgument) << finish.ToString();

  // With the bytes, Bob gets his own copy; a session of Alice's identity hits hers.
  ASSERT_EQ(UploadTo(*bob, "mine.so", secret).value(), false);
  std::unique_ptr<AgentSessionFiles> alice2 = Session("alice2", kOwner);
  ASSERT_EQ(UploadTo(*alice2, "again.so", secret).value(), true);
  UploadCache cache = OpenCache();
  EXPECT_NE(Inode(cache.PathFor(kOwner, Sha256Hex(secret))),
            Inode(cache.PathFor(kOtherOwner, Sha256Hex(secret))));
  EXPECT_EQ(Inode(*alice2->PathOf("again.so")), Inode(*alice->PathOf("model.so")));
  EXPECT_EQ(Inode(*bob->PathOf("mine.so")), Inode(cache.PathFor(kOtherOwner, Sha256Hex(secret))));
}

TEST_F(StorageLimitsTest, AHitWithTheWrongSizeLinksNothing) {
  std::unique_ptr<AgentSessionFiles> first = Session("first");
  ASSERT_TRUE(UploadTo(*first, "a.so", "abc").ok());
  std::unique_ptr<AgentSessionFiles> second = Session("second");
  StatusOr<bool> begun = second->BeginUpload("b.so", kAbcSha, 1 << 20);
  EXPECT_EQ(begun.status().code(), StatusCode::kInvalidArgument) << begun.status().ToString();
  EXPECT_EQ(second->PathOf("b.so").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(second->AppendUpload("b.so", 0, "abc").code(), StatusCode::kNotFound)
      << "no upload was started either";
  EXPECT_EQ(second->BeginUpload("b.so", kAbcSha, 3).value(), true);
}

// ---------------------------------------------------------------------------------------------
// Temp files of dead workers (finding 9)

TEST_F(StorageLimitsTest, TempFilesNameTheirWriter) {
  UploadCache cache = OpenCache();
  std::unique_ptr<PendingUpload> upload = *cache.Begin(kOwner, kAbcSha, 3, kLimits);
  const std::string prefix = cache.root() + "/.upload-" + std::to_string(::getpid()) + "-";
  EXPECT_EQ(upload->temp_path().rfind(prefix, 0), 0u) << upload->temp_path();
  EXPECT_EQ(Temps(cache).size(), 1u);
}

TEST_F(StorageLimitsTest, RemoveTempFilesOfAKilledWorker) {
  UploadCache cache = OpenCache();
  ASSERT_TRUE(Upload(cache, "cached content").ok());
  const std::string data(100000, 'x');
  // A worker dies mid-upload: no destructor runs, its temp file stays.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    StatusOr<std::unique_ptr<PendingUpload>> upload =
        cache.Begin(kOwner, Sha256Hex(data), data.size(), kLimits);
    if (!upload.ok() || !(*upload)->Append(0, std::string_view(data).substr(0, 4096)).ok()) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Someone else's upload in progress, and names that only look alike.
  std::unique_ptr<PendingUpload> mine = *cache.Begin(kOwner, kAbcSha, 3, kLimits);
  const std::string dead = ".upload-" + std::to_string(child) + "-";
  Write(cache.root() + "/.upload-" + std::to_string(child) + "0-abcdef", "longer pid");
  Write(cache.root() + "/" + dead.substr(0, dead.size() - 1), "no dash");
  ASSERT_EQ(Temps(cache).size(), 4u);

  StatusOr<size_t> removed = cache.RemoveTempFilesOf(child);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1u);
  std::vector<std::string> left = Temps(cache);
  EXPECT_EQ(left.size(), 3u);
  for (const std::string& name : left) EXPECT_NE(name.rfind(dead, 0), 0u) << name;
  EXPECT_EQ(cache.RemoveTempFilesOf(child).value(), 0u);
  EXPECT_TRUE(fs::exists(mine->temp_path()));
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex("cached content")));
}

TEST_F(StorageLimitsTest, RemoveAllTempFilesKeepsTheContent) {
  UploadCache cache = OpenCache();
  ASSERT_TRUE(Upload(cache, "abc").ok());
  ASSERT_TRUE(Upload(cache, "abc", 7, kOtherOwner).ok());
  std::unique_ptr<PendingUpload> a = *cache.Begin(kOwner, kEmptySha, 0, kLimits);
  std::unique_ptr<PendingUpload> b = *cache.Begin(kOtherOwner, kAbcSha, 3, kLimits);
  Write(cache.root() + "/.upload-Ab12Cd", "an old-style temp name");
  ASSERT_EQ(Temps(cache).size(), 3u);
  StatusOr<size_t> removed = cache.RemoveAllTempFiles();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 3u);
  EXPECT_TRUE(Temps(cache).empty());
  EXPECT_EQ(Cached(cache), std::vector<std::string>{kAbcSha});
  EXPECT_EQ(Cached(cache, kOtherOwner), std::vector<std::string>{kAbcSha});
  EXPECT_EQ(OpenCache().RemoveAllTempFiles().value(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Cache size limit

TEST_F(StorageLimitsTest, AFullCacheEvictsTheLeastRecentlyUsed) {
  UploadCache cache = OpenCache();
  const StorageLimits limits{.max_upload_bytes = 100, .cache_max_bytes = 30};
  const std::string a(10, 'a'), b(10, 'b'), c(10, 'c'), d(10, 'd'), e(10, 'e');
  for (const std::string* data : {&a, &b, &c}) {
    ASSERT_TRUE(Upload(cache, *data, 7, kOwner, limits).ok());
  }
  SetUsed(cache.PathFor(kOwner, Sha256Hex(a)), 1000);
  SetUsed(cache.PathFor(kOwner, Sha256Hex(b)), 3000);
  SetUsed(cache.PathFor(kOwner, Sha256Hex(c)), 2000);
  EXPECT_EQ(cache.UsedBytes(), 30u);

  ASSERT_TRUE(Upload(cache, d, 7, kOwner, limits).ok());
  EXPECT_FALSE(cache.Contains(kOwner, Sha256Hex(a))) << "the oldest use goes first";
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex(b)));
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex(c)));
  EXPECT_EQ(cache.UsedBytes(), 30u);

  // A hit is a use: c is now newer than b.
  ASSERT_TRUE(cache.Lookup(kOwner, Sha256Hex(c), c.size()).ok());
  ASSERT_TRUE(Upload(cache, e, 7, kOtherOwner, limits).ok()) << "the limit spans all owners";
  EXPECT_FALSE(cache.Contains(kOwner, Sha256Hex(b)));
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex(c)));
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex(d)));
  EXPECT_TRUE(cache.Contains(kOtherOwner, Sha256Hex(e)));
  EXPECT_EQ(cache.UsedBytes(), 30u);
  EXPECT_TRUE(Temps(cache).empty());
}

TEST_F(StorageLimitsTest, ContentLinkedIntoASessionIsNeverEvicted) {
  UploadCache cache = OpenCache();
  const StorageLimits limits{.max_upload_bytes = 100, .cache_max_bytes = 30};
  const std::string a(10, 'a'), b(10, 'b'), c(10, 'c'), d(10, 'd');
  std::optional<SessionDirectory> session = *SessionDirectory::Create(dir_ + "/sessions", "s");
  int n = 0;
  for (const std::string* data : {&a, &b, &c}) {
    StatusOr<std::string> path = Upload(cache, *data, 7, kOwner, limits);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    SetUsed(*path, 1000 + n);  // older than d will be
    ASSERT_TRUE(session->AddFile("f" + std::to_string(n++), *path).ok());
  }
  StatusOr<std::unique_ptr<PendingUpload>> refused =
      cache.Begin(kOwner, Sha256Hex(d), d.size(), limits);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("upload cache limit of 30 bytes"), std::string::npos)
      << refused.status().message();
  for (const std::string* data : {&a, &b, &c})
    EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex(*data)));
  EXPECT_TRUE(Temps(cache).empty());

  // Removing a label frees its content for eviction; the session's other files stay.
  ASSERT_TRUE(session->Remove("f1").ok());
  StatusOr<std::string> d_path = Upload(cache, d, 7, kOwner, limits);
  ASSERT_TRUE(d_path.ok()) << d_path.status().ToString();
  ASSERT_TRUE(session->AddFile("f3", *d_path).ok());
  EXPECT_FALSE(cache.Contains(kOwner, Sha256Hex(b)));
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex(a)));
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex(c)));
  // A load link pins content like a label does.
  ASSERT_TRUE(session->LoadPathOf("f0").ok());
  ASSERT_TRUE(session->Remove("f0").ok());
  EXPECT_EQ(cache.Begin(kOwner, Sha256Hex(b), b.size(), limits).status().code(),
            StatusCode::kResourceExhausted);
  session.reset();  // the session ends: everything is evictable
  EXPECT_TRUE(Upload(cache, b, 7, kOwner, limits).ok());
}

TEST_F(StorageLimitsTest, UploadsInProgressCountTowardTheLimit) {
  UploadCache cache = OpenCache();
  const StorageLimits limits{.max_upload_bytes = 100, .cache_max_bytes = 30};
  StatusOr<std::unique_ptr<PendingUpload>> too_big = cache.Begin(kOwner, kAbcSha, 31, limits);
  EXPECT_EQ(too_big.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(too_big.status().message().find("upload cache limit of 30 bytes"), std::string::npos)
      << too_big.status().message();

  std::unique_ptr<PendingUpload> first = *cache.Begin(kOwner, Sha256Hex("1"), 20, limits);
  EXPECT_EQ(cache.UsedBytes(), 20u) << "the declared size is reserved at once";
  EXPECT_EQ(cache.Begin(kOwner, Sha256Hex("2"), 11, limits).status().code(),
            StatusCode::kResourceExhausted);
  std::unique_ptr<PendingUpload> second = *cache.Begin(kOwner, Sha256Hex("3"), 10, limits);
  first.reset();
  EXPECT_EQ(cache.UsedBytes(), 10u);
  EXPECT_TRUE(cache.Begin(kOwner, Sha256Hex("2"), 20, limits).ok());
}

TEST_F(StorageLimitsTest, ConcurrentUploadsNeverOvershootTheLimit) {
  const StorageLimits limits{.max_upload_bytes = 100, .cache_max_bytes = 50};
  constexpr int kThreads = 8;
  std::latch begun(kThreads);
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      UploadCache cache = OpenCache();
      const std::string data(10, static_cast<char>('a' + t));
      StatusOr<std::unique_ptr<PendingUpload>> upload =
          cache.Begin(kOwner, Sha256Hex(data), data.size(), limits);
      if (upload.ok()) {
        ++accepted;
      } else if (upload.status().code() == StatusCode::kResourceExhausted) {
        ++refused;
      }
      begun.arrive_and_wait();  // every upload stays open until all have begun
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), 5);
  EXPECT_EQ(refused.load(), 3);
}

TEST_F(StorageLimitsTest, SessionsShareTheCacheLimit) {
  StorageLimits limits = kLimits;
  limits.cache_max_bytes = 20;
  std::unique_ptr<AgentSessionFiles> first = Session("first", kOwner, limits);
  ASSERT_TRUE(UploadTo(*first, "a", std::string(10, 'a')).ok());
  ASSERT_TRUE(UploadTo(*first, "b", std::string(10, 'b')).ok());
  std::unique_ptr<AgentSessionFiles> second = Session("second", kOtherOwner, limits);
  const std::string c(10, 'c');
  StatusOr<bool> full = second->BeginUpload("c", Sha256Hex(c), c.size());
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("upload cache limit of 20 bytes"), std::string::npos)
      << full.status().message();
  ASSERT_TRUE(first->Remove("a").ok());
  EXPECT_EQ(UploadTo(*second, "c", c).value(), false);
  UploadCache cache = OpenCache();
  EXPECT_FALSE(cache.Contains(kOwner, Sha256Hex(std::string(10, 'a'))));
  EXPECT_TRUE(cache.Contains(kOwner, Sha256Hex(std::string(10, 'b'))));
  EXPECT_EQ(cache.UsedBytes(), 20u);
}

// ---------------------------------------------------------------------------------------------
// Session quota

TEST_F(StorageLimitsTest, SessionQuotaBoundsWhatASessionHolds) {
  StorageLimits limits = kLimits;
  limits.session_quota_bytes = 20;
  std::unique_ptr<AgentSessionFiles> files = Session("s", kOwner, limits);
  ASSERT_TRUE(UploadTo(*files, "a", std::string(10, 'a')).ok());
  ASSERT_TRUE(UploadTo(*files, "b", std::string(10, 'b')).ok());
  EXPECT_EQ(files->held_bytes(), 20u);

  StatusOr<bool> over = files->BeginUpload("c", Sha256Hex("c"), 1);
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("session disk quota of 20 bytes exceeded"),
            std::string::npos)
      << over.status().message();
  EXPECT_EQ(files->AppendUpload("c", 0, "c").code(), StatusCode::kNotFound);
  // A cache hit links bytes too, so it counts the same.
  std::unique_ptr<AgentSessionFiles> other = Session("other");
  ASSERT_TRUE(UploadTo(*other, "x", "c").ok());
  EXPECT_EQ(files->BeginUpload("c", Sha256Hex("c"), 1).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(files->PathOf("c").status().code(), StatusCode::kNotFound);

  // Replacing a label counts its new size instead of its old one.
  ASSERT_TRUE(UploadTo(*files, "a", std::string(5, 'A')).ok());
  EXPECT_EQ(files->held_bytes(), 15u);
  EXPECT_EQ(UploadTo(*files, "c", "c").value(), true);
  // An upload in progress counts with its declared size.
  ASSERT_TRUE(files->BeginUpload("b", Sha256Hex("bb"), 2).ok());
  EXPECT_EQ(files->held_bytes(), 8u);
  EXPECT_EQ(files->BeginUpload("big", Sha256Hex("big"), 13).status().code(),
            StatusCode::kResourceExhausted);
  ASSERT_TRUE(files->AppendUpload("b", 0, "bb").ok());
  ASSERT_TRUE(files->FinishUpload("b").ok());
  // Removing a label gives its bytes back.
  ASSERT_TRUE(files->Remove("a").ok());
  EXPECT_EQ(files->held_bytes(), 3u);
  EXPECT_TRUE(UploadTo(*files, "big", std::string(17, 'g')).ok());
  EXPECT_EQ(files->held_bytes(), 20u);
}

// ---------------------------------------------------------------------------------------------
// Load paths (finding 5: a label given new content loaded the old library again)

TEST_F(StorageLimitsTest, LoadPathFollowsTheLabelsContent) {
  UploadCache cache = OpenCache();
  const std::string a = *Upload(cache, "library A");
  const std::string b = *Upload(cache, "library B");
  SessionDirectory session = *SessionDirectory::Create(dir_ + "/sessions", "s");
  ASSERT_TRUE(session.AddFile("lib.so", a).ok());
  StatusOr<std::string> first = session.LoadPathOf("lib.so");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_NE(*first, *session.PathOf("lib.so"));
  EXPECT_EQ(fs::path(*first).parent_path(), fs::path(session.path()));
  EXPECT_EQ(Read(*first), "library A");
  EXPECT_EQ(session.LoadPathOf("lib.so").value(), *first) << "same content, same path";

  ASSERT_TRUE(session.AddFile("lib.so", b).ok());
  StatusOr<std::string> second = session.LoadPathOf("lib.so");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(*second, *first);
  EXPECT_EQ(Read(*second), "library B");
  EXPECT_EQ(Read(*first), "library A") << "a library loaded before keeps its file";
  // The same content under another label loads from the same path.
  ASSERT_TRUE(session.AddFile("copy.so", b).ok());
  EXPECT_EQ(session.LoadPathOf("copy.so").value(), *second);

  using FileInfo = SessionDirectory::FileInfo;
  EXPECT_EQ(session.List(), (std::vector<FileInfo>{{"copy.so", 9}, {"lib.so", 9}}));
  EXPECT_EQ(session.LoadPathOf("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(session.LoadPathOf("../x").status().code(), StatusCode::kInvalidArgument);
  // Whatever the session's code put under a load path's name is replaced.
  fs::remove(*second);
  ASSERT_EQ(::symlink((dir_ + "/elsewhere").c_str(), second->c_str()), 0);
  EXPECT_EQ(session.LoadPathOf("lib.so").value(), *second);
  EXPECT_EQ(Read(*second), "library B");
}

TEST_F(StorageLimitsTest, SessionFilesLoadPathChangesWithAnUpload) {
  std::unique_ptr<AgentSessionFiles> files = Session("s");
  ASSERT_TRUE(UploadTo(*files, "lib.so", "version 1").ok());
  StatusOr<std::string> first = files->LoadPathOf("lib.so");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(UploadTo(*files, "lib.so", "version 2").ok());
  StatusOr<std::string> second = files->LoadPathOf("lib.so");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(*first, *second);
  EXPECT_EQ(Read(*second), "version 2");
  EXPECT_EQ(files->LoadPathOf("a/b").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry::agent::testing
