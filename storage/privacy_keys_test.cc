#include "storage/privacy_keys.h"

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigie::storage {
namespace {

using ::testing::HasSubstr;

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

const std::string kSecret(40, 's');

TEST(HmacSha256Test, MatchesRfc4231TestCase2) {
  const std::array<uint8_t, 32> mac =
      HmacSha256("Jefe", "what do ya want for nothing?");
  EXPECT_EQ(Hex(absl::string_view(reinterpret_cast<const char*>(mac.data()),
                                  mac.size())),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// The test cases of the GCM specification (McGrew and Viega, "The
// Galois/Counter Mode of Operation", test cases 13 and 14: AES-256, a key
// and a nonce of zeros, no associated data).
TEST(PrivacyKeysTest, SealMatchesTheGcmSpecificationsTestCases) {
  const PrivacyKeys keys = PrivacyKeys::WithSealKeyForTest({});
  const std::string nonce(12, '\0');
  const std::string empty = keys.SealWithNonceForTest("", "", nonce);
  EXPECT_EQ(Hex(empty), "01" + Hex(nonce) + "530f8afbc74536b9a963b4f1c4cb738b");
  const std::string block =
      keys.SealWithNonceForTest("", std::string(16, '\0'), nonce);
  EXPECT_EQ(Hex(block), "01" + Hex(nonce) +
                            "cea7403d4d606b6e074ec5d3baf39d18"
                            "d0d1c8a799996bf0265b98b5d48ab919");
}

TEST(PrivacyKeysTest, RefusesShortSecrets) {
  absl::StatusOr<PrivacyKeys> keys = PrivacyKeys::FromSecret("short");
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(keys.status().message(), HasSubstr("32"));
}

TEST(PrivacyKeysTest, GeneratedSecretsAreHexAndDistinct) {
  absl::StatusOr<std::string> a = PrivacyKeys::GenerateSecret();
  absl::StatusOr<std::string> b = PrivacyKeys::GenerateSecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(PrivacyKeys::FromSecret(*a).ok());
}

TEST(PrivacyKeysTest, PseudonymIsTheTruncatedHmacOfTheDerivedKey) {
  absl::StatusOr<PrivacyKeys> keys = PrivacyKeys::FromSecret(kSecret);
  ASSERT_TRUE(keys.ok());
  // The derivation, written out: key = HMAC(secret, label), pseudonym =
  // the first 16 bytes of HMAC(key, "<len>:" model id).
  const std::array<uint8_t, 32> key =
      HmacSha256(kSecret, "vigie prediction id pseudonyms v1");
  const std::array<uint8_t, 32> mac = HmacSha256(
      absl::string_view(reinterpret_cast<const char*>(key.data()), 32),
      "6:credit"
      "pred-1");
  EXPECT_EQ(
      keys->Pseudonym("credit", "pred-1"),
      Hex(absl::string_view(reinterpret_cast<const char*>(mac.data()), 16)));
}

TEST(PrivacyKeysTest, PseudonymsSeparateModelsIdsAndSecrets) {
  absl::StatusOr<PrivacyKeys> keys = PrivacyKeys::FromSecret(kSecret);
  absl::StatusOr<PrivacyKeys> other =
      PrivacyKeys::FromSecret(std::string(40, 't'));
  ASSERT_TRUE(keys.ok() && other.ok());
  std::set<std::string> seen = {
      keys->Pseudonym("a", "bc"), keys->Pseudonym("ab", "c"),
      keys->Pseudonym("a", "bd"), other->Pseudonym("a", "bc")};
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(keys->Pseudonym("a", "bc"), keys->Pseudonym("a", "bc"));
  EXPECT_EQ(keys->Pseudonym("a", "bc").size(), 32u);
  EXPECT_EQ(keys->Pseudonym("a", "bc").find("bc"), std::string::npos);
}

TEST(PrivacyKeysTest, SealedRecordsOpenOnlyForTheirPurposeAndSecret) {
  absl::StatusOr<PrivacyKeys> keys = PrivacyKeys::FromSecret(kSecret);
  absl::StatusOr<PrivacyKeys> other =
      PrivacyKeys::FromSecret(std::string(40, 't'));
  ASSERT_TRUE(keys.ok() && other.ok());
  const std::string plaintext = "income=52341.17 postcode=75011";
  const std::string sealed = keys->Seal("ingest log", plaintext);
  EXPECT_EQ(sealed.size(), plaintext.size() + 29);
  EXPECT_EQ(sealed.find("52341"), std::string::npos);
  // A fresh nonce each time.
  EXPECT_NE(keys->Seal("ingest log", plaintext), sealed);

  absl::StatusOr<std::string> opened = keys->Open("ingest log", sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, plaintext);

  EXPECT_EQ(keys->Open("pending block", sealed).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(other->Open("ingest log", sealed).status().code(),
            absl::StatusCode::kDataLoss);
  std::string altered = sealed;
  altered[20] = static_cast<char>(altered[20] ^ 1);
  EXPECT_EQ(keys->Open("ingest log", altered).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(keys->Open("ingest log", "x").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(PrivacyKeysTest, FingerprintTellsSecretsApart) {
  absl::StatusOr<PrivacyKeys> keys = PrivacyKeys::FromSecret(kSecret);
  absl::StatusOr<PrivacyKeys> same = PrivacyKeys::FromSecret(kSecret);
  absl::StatusOr<PrivacyKeys> other =
      PrivacyKeys::FromSecret(std::string(40, 't'));
  ASSERT_TRUE(keys.ok() && same.ok() && other.ok());
  EXPECT_EQ(keys->Fingerprint(), same->Fingerprint());
  EXPECT_NE(keys->Fingerprint(), other->Fingerprint());
  EXPECT_EQ(keys->Fingerprint().find(kSecret), std::string::npos);
}

}  // namespace
}  // namespace vigie::storage
