// SHA-256 through OpenSSL's EVP interface, one-shot or streamed.
#ifndef FERRY_DEVICE_AGENT_SHA256_H_
#define FERRY_DEVICE_AGENT_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace ferry::agent {

// A streaming SHA-256: Update() with the data in any number of pieces, then FinishHex().
// Move-only; not thread-safe (one user at a time). OpenSSL failures (allocation) are broken
// preconditions and throw CheckError.
class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept = default;
  Sha256& operator=(Sha256&&) noexcept = default;

  // Adds `data` to the digest.
  void Update(std::string_view data);

  // Returns the digest of everything added since construction or the last FinishHex(), as
  // 64 lowercase hex characters, and starts over with an empty input.
  std::string FinishHex();

 private:
  struct CtxFree {
    void operator()(EVP_MD_CTX* ctx) const;
  };
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
};

// The SHA-256 of `data` as 64 lowercase hex characters.
std::string Sha256Hex(std::string_view data);

// True when `text` is exactly 64 lowercase hex characters (the form Sha256 returns and the
// upload cache names its files by).
bool IsSha256Hex(std::string_view text);

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_SHA256_H_
