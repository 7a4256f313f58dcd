#include "device_agent/sha256.h"

#include <openssl/evp.h>

#include "runtime/check.h"

namespace ferry::agent {

void Sha256::CtxFree::operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  FERRY_CHECK(ctx_ != nullptr) << "EVP_MD_CTX_new failed";
  FERRY_CHECK(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1)
      << "EVP_DigestInit_ex(sha256) failed";
}

void Sha256::Update(std::string_view data) {
  FERRY_CHECK(ctx_ != nullptr) << "Sha256 used after move";
  if (data.empty()) return;
  FERRY_CHECK(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) == 1)
      << "EVP_DigestUpdate failed";
}

std::string Sha256::FinishHex() {
  FERRY_CHECK(ctx_ != nullptr) << "Sha256 used after move";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  FERRY_CHECK(EVP_DigestFinal_ex(ctx_.get(), digest, &length) == 1) << "EVP_DigestFinal_ex failed";
  FERRY_CHECK(length == 32) << "SHA-256 digest of " << length << " bytes";
  FERRY_CHECK(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1)
      << "EVP_DigestInit_ex(sha256) failed";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * length, '\0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return hex;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 hash;
  hash.Update(data);
  return hash.FinishHex();
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace ferry::agent
