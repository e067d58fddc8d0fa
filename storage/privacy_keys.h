#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigie::storage {

// The keys that keep what Vigie writes to disk free of raw identifiers and
// raw events (referential Q1.5, minimisation; GDPR art. 25 and 32), all
// derived from one operator secret:
//   - prediction ids are kept, wherever they outlive an ingest call (pending
//     joins, join marks), as keyed hashes: HMAC-SHA-256 of the model and
//     the id, truncated to 128 bits. Without the secret, an id cannot be
//     recovered from its pseudonym, nor tested against it;
//   - the two records that must carry whole events to replay them after a
//     crash (the ingest log, and the blocks of predictions waiting for their
//     outcome) are sealed with AES-256-GCM, each with a fresh random nonce
//     and the record's kind as associated data, so that one kind of record
//     cannot be passed off as another.
// The derivation is HMAC-SHA-256(secret, label) for each use, so that the
// keys are independent. OpenSSL does the cryptography.
//
// Immutable once made, so thread-safe.
class PrivacyKeys {
 public:
  // Shorter secrets are refused: 32 bytes is the strength of the keys.
  static constexpr size_t kMinSecretBytes = 32;

  // kInvalidArgument for a secret of fewer than kMinSecretBytes bytes.
  static absl::StatusOr<PrivacyKeys> FromSecret(absl::string_view secret);
  // 32 bytes from OpenSSL's random generator, as hex (64 characters, so
  // that it can be kept in a text file or a Kubernetes Secret as is).
  // kInternal if the generator fails.
  static absl::StatusOr<std::string> GenerateSecret();

  // The pseudonym of `prediction_id` of `model_id`: 32 lower-case hex
  // digits. The same pair always gives the same pseudonym under one secret.
  std::string Pseudonym(absl::string_view model_id,
                        absl::string_view prediction_id) const;
  // The same appended to `out`, kPseudonymChars more characters: a batch's
  // pseudonyms go in one buffer rather than one string each.
  static constexpr size_t kPseudonymChars = 32;
  void AppendPseudonym(absl::string_view model_id,
                       absl::string_view prediction_id, std::string* out) const;

  // `plaintext` encrypted and authenticated for `purpose` (say "ingest
  // log"): a version byte, the 12-byte nonce, the ciphertext and the 16-byte
  // tag, 29 bytes more than the plaintext.
  std::string Seal(absl::string_view purpose,
                   absl::string_view plaintext) const;
  // The plaintext of a Seal(purpose, ...) result. kDataLoss if the bytes
  // were not sealed for `purpose` under this secret, or were altered.
  absl::StatusOr<std::string> Open(absl::string_view purpose,
                                   absl::string_view sealed) const;

  // A value that tells secrets apart without revealing them (HMAC of a
  // fixed label): stored with the state, so that a restart with another
  // secret is refused rather than silently failing every join.
  std::string Fingerprint() const;

  // Seal with a given nonce, for known-answer tests only: a nonce must
  // never be used twice with one key.
  std::string SealWithNonceForTest(absl::string_view purpose,
                                   absl::string_view plaintext,
                                   absl::string_view nonce) const {
    return SealWithNonce(purpose, plaintext, nonce);
  }
  // Keys whose sealing key is `seal_key` itself, for known-answer tests of
  // the cipher: they seal and open only (no pseudonym, no fingerprint).
  static PrivacyKeys WithSealKeyForTest(const std::array<uint8_t, 32>& key);

 private:
  using Key = std::array<uint8_t, 32>;
  PrivacyKeys() = default;
  std::string SealWithNonce(absl::string_view purpose,
                            absl::string_view plaintext,
                            absl::string_view nonce) const;

  // HMAC-SHA-256 under id_key_ with its key blocks already hashed: the
  // inner and outer SHA-256 states after (key XOR ipad) and (key XOR
  // opad). A pseudonym per event then costs four compressions and no key
  // set-up (bench/services/privacy_benchmark.cc). Shared and never changed
  // after construction.
  struct HmacPrefix;
  std::shared_ptr<const HmacPrefix> id_prefix_;
  Key seal_key_{};
  Key check_key_{};
};

// HMAC-SHA-256 of `data` under `key`: 32 bytes. Exposed for its
// known-answer test.
std::array<uint8_t, 32> HmacSha256(absl::string_view key,
                                   absl::string_view data);

}  // namespace vigie::storage
