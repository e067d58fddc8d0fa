#include "storage/privacy_keys.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <initializer_list>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace vigie::storage {
namespace {

// The first byte of a sealed record, so that a later format can be told
// from this one.
constexpr char kSealVersion = 1;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* MutableBytes(std::string& s, size_t at) {
  return reinterpret_cast<unsigned char*>(s.data() + at);
}
absl::string_view View(const std::array<uint8_t, 32>& key) {
  return absl::string_view(reinterpret_cast<const char*>(key.data()),
                           key.size());
}

struct DigestContextFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextFree>;

}  // namespace

struct PrivacyKeys::HmacPrefix {
  DigestContext inner;
  DigestContext outer;

  // RFC 2104 with SHA-256: a 32-byte key padded to the 64-byte block.
  explicit HmacPrefix(const std::array<uint8_t, 32>& key)
      : inner(EVP_MD_CTX_new()), outer(EVP_MD_CTX_new()) {
    std::array<uint8_t, 64> ipad{};
    std::array<uint8_t, 64> opad{};
    for (size_t i = 0; i < 64; ++i) {
      const uint8_t k = i < key.size() ? key[i] : 0;
      ipad[i] = static_cast<uint8_t>(k ^ 0x36);
      opad[i] = static_cast<uint8_t>(k ^ 0x5c);
    }
    if (inner == nullptr || outer == nullptr ||
        EVP_DigestInit_ex(inner.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(inner.get(), ipad.data(), ipad.size()) != 1 ||
        EVP_DigestInit_ex(outer.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(outer.get(), opad.data(), opad.size()) != 1) {
      std::abort();  // Allocation failure.
    }
  }

  // The MAC of the concatenation of `parts`, hashed one after the other.
  std::array<uint8_t, 32> Mac(
      std::initializer_list<absl::string_view> parts) const {
    std::array<uint8_t, 32> inner_digest{};
    std::array<uint8_t, 32> out{};
    DigestContext ctx(EVP_MD_CTX_new());
    unsigned int length = 0;
    bool ok = ctx != nullptr && EVP_MD_CTX_copy_ex(ctx.get(), inner.get()) == 1;
    for (absl::string_view part : parts) {
      ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
    }
    if (!ok ||
        EVP_DigestFinal_ex(ctx.get(), inner_digest.data(), &length) != 1 ||
        EVP_MD_CTX_copy_ex(ctx.get(), outer.get()) != 1 ||
        EVP_DigestUpdate(ctx.get(), inner_digest.data(), inner_digest.size()) !=
            1 ||
        EVP_DigestFinal_ex(ctx.get(), out.data(), &length) != 1) {
      std::abort();  // Allocation failure.
    }
    return out;
  }
};

std::array<uint8_t, 32> HmacSha256(absl::string_view key,
                                   absl::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int length = 0;
  // Cannot fail with SHA-256 and in-memory buffers.
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), Bytes(data),
       data.size(), out.data(), &length);
  return out;
}

absl::StatusOr<PrivacyKeys> PrivacyKeys::FromSecret(absl::string_view secret) {
  if (secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the privacy secret has ", secret.size(), " bytes; it needs ",
        kMinSecretBytes, " or more (for instance 64 hex digits)"));
  }
  PrivacyKeys keys;
  keys.id_prefix_ = std::make_shared<const HmacPrefix>(
      HmacSha256(secret, "vigie prediction id pseudonyms v1"));
  keys.seal_key_ = HmacSha256(secret, "vigie sealed records v1");
  keys.check_key_ = HmacSha256(secret, "vigie secret fingerprint v1");
  return keys;
}

PrivacyKeys PrivacyKeys::WithSealKeyForTest(
    const std::array<uint8_t, 32>& key) {
  PrivacyKeys keys;
  keys.seal_key_ = key;
  return keys;
}

absl::StatusOr<std::string> PrivacyKeys::GenerateSecret() {
  std::string bytes(32, '\0');
  if (RAND_bytes(MutableBytes(bytes, 0), static_cast<int>(bytes.size())) != 1) {
    return absl::InternalError("the random generator failed to make a secret");
  }
  return absl::BytesToHexString(bytes);
}

std::string PrivacyKeys::Pseudonym(absl::string_view model_id,
                                   absl::string_view prediction_id) const {
  std::string out;
  AppendPseudonym(model_id, prediction_id, &out);
  return out;
}

void PrivacyKeys::AppendPseudonym(absl::string_view model_id,
                                  absl::string_view prediction_id,
                                  std::string* out) const {
  // The model id's length first, so that ("a", "bc") and ("ab", "c") differ.
  const absl::AlphaNum length(model_id.size());
  const std::array<uint8_t, 32> mac =
      id_prefix_->Mac({length.Piece(), ":", model_id, prediction_id});
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t at = out->size();
  out->resize(at + kPseudonymChars);
  for (size_t i = 0; i < kPseudonymChars / 2; ++i) {
    (*out)[at + 2 * i] = kHex[mac[i] >> 4];
    (*out)[at + 2 * i + 1] = kHex[mac[i] & 0xf];
  }
}

std::string PrivacyKeys::Fingerprint() const {
  const std::array<uint8_t, 32> mac =
      HmacSha256(View(check_key_), "vigie secret fingerprint");
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::string PrivacyKeys::Seal(absl::string_view purpose,
                              absl::string_view plaintext) const {
  std::string nonce(kNonceBytes, '\0');
  // RAND_bytes fails only if the generator cannot be seeded, which the
  // operating system's generator rules out; a nonce of zeros then would
  // still be unique per key only by luck, so stop rather than risk it.
  if (RAND_bytes(MutableBytes(nonce, 0), static_cast<int>(kNonceBytes)) != 1) {
    std::abort();
  }
  return SealWithNonce(purpose, plaintext, nonce);
}

std::string PrivacyKeys::SealWithNonce(absl::string_view purpose,
                                       absl::string_view plaintext,
                                       absl::string_view nonce) const {
  std::string out(1 + kNonceBytes + plaintext.size() + kTagBytes, '\0');
  out[0] = kSealVersion;
  nonce.substr(0, kNonceBytes).copy(out.data() + 1, kNonceBytes);
  CipherContext ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  // With a valid context, key and nonce, these fail only on allocation
  // failure, which aborts anyway.
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         seal_key_.data(), Bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, Bytes(purpose),
                        static_cast<int>(purpose.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), MutableBytes(out, 1 + kNonceBytes), &length,
                        Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), MutableBytes(out, 1 + kNonceBytes),
                          &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(
          ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
          MutableBytes(out, 1 + kNonceBytes + plaintext.size())) != 1) {
    std::abort();
  }
  return out;
}

absl::StatusOr<std::string> PrivacyKeys::Open(absl::string_view purpose,
                                              absl::string_view sealed) const {
  if (sealed.size() < 1 + kNonceBytes + kTagBytes ||
      sealed[0] != kSealVersion) {
    return absl::DataLossError(absl::StrCat("a sealed ", purpose,
                                            " record is too short or of an "
                                            "unknown format"));
  }
  const absl::string_view nonce = sealed.substr(1, kNonceBytes);
  const absl::string_view ciphertext = sealed.substr(
      1 + kNonceBytes, sealed.size() - 1 - kNonceBytes - kTagBytes);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  std::string out(ciphertext.size(), '\0');
  CipherContext ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  const bool ok =
      ctx != nullptr &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         seal_key_.data(), Bytes(nonce)) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, Bytes(purpose),
                        static_cast<int>(purpose.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), MutableBytes(out, 0), &length,
                        Bytes(ciphertext),
                        static_cast<int>(ciphertext.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG,
                          static_cast<int>(kTagBytes), tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), MutableBytes(out, 0), &length) == 1;
  if (!ok) {
    return absl::DataLossError(absl::StrCat(
        "a sealed ", purpose,
        " record does not open: it was written under another privacy secret, "
        "or altered"));
  }
  return out;
}

}  // namespace vigie::storage
