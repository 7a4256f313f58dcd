// CURVE key files (rpc/curve_keys.h): a key given as itself or as a file.
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler/subprocess.h"
#include "rpc/curve_keys.h"
#include "runtime/file_util.h"
#include "tests/model_test_util.h"

namespace ferry::rpc {
namespace {

TEST(CurveKeysTest, APublicKeyIsTakenAsItselfOrReadFromItsFile) {
  ASSERT_OK_AND_ASSIGN(CurveKeyPair keys, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-keys-"));
  ASSERT_OK(WriteCurveKeyPair(dir.path() + "/id", keys, false));
  EXPECT_EQ(LoadCurvePublicKey(keys.public_key).value(), keys.public_key);
  EXPECT_EQ(LoadCurvePublicKey(dir.path() + "/id.pub").value(), keys.public_key);
  EXPECT_EQ(LoadCurvePublicKey(dir.path() + "/missing.pub").status().code(), StatusCode::kNotFound);
}

// Found by the link fault test: "/tmp/ferry-link-fault-XXXXXX/tracker.pub" is 40 characters,
// all of them Z85, so the agent took the path itself for the tracker's key and every CURVE
// handshake with the tracker failed. An existing file now wins.
TEST(CurveKeysTest, AFileWhosePathLooksLikeAKeyIsRead) {
  ASSERT_OK_AND_ASSIGN(CurveKeyPair keys, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-keys-"));
  std::string path = dir.path() + "/";
  if (path.size() > 35) GTEST_SKIP() << "the temporary directory's path is too long: " << path;
  path += std::string(40 - path.size() - 4, 'k') + ".pub";
  ASSERT_EQ(path.size(), 40u);
  ASSERT_TRUE(IsZ85Key(path)) << path;
  ASSERT_OK(WriteFileAtomically(path, keys.public_key + "\n"));
  EXPECT_EQ(LoadCurvePublicKey(path).value(), keys.public_key);
}

}  // namespace
}  // namespace ferry::rpc
