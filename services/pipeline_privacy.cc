// Where the privacy secret comes from, and the check that the state was
// written under it (storage/privacy_keys.h says what it protects).

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/pipeline.h"
#include "services/secret_file.h"

namespace vigie::services {

absl::Status Pipeline::LoadPrivacyKeys() {
  std::string secret;
  if (!config_.privacy.secret_file.empty()) {
    ASSIGN_OR_RETURN(
        std::string text,
        ReadSecretFile(config_.privacy.secret_file, "privacy.secret_file"));
    // A Secret written with echo, or edited, ends with a newline.
    secret = std::string(absl::StripAsciiWhitespace(text));
  } else {
    ASSIGN_OR_RETURN(std::optional<std::string> kept,
                     store_->GetPrivacyValue("secret"));
    if (kept.has_value()) {
      secret = *std::move(kept);
    } else {
      ASSIGN_OR_RETURN(secret, storage::PrivacyKeys::GenerateSecret());
      RETURN_IF_ERROR(store_->PutPrivacyValue("secret", secret));
      VIGIE_LOG(Warning,
                "no privacy.secret_file: made a privacy secret and kept it in "
                "the state store. Prediction ids on disk are pseudonymised "
                "and raw events sealed with it, but whoever has the whole "
                "store has the secret too: in production, give Vigie a "
                "secret file kept apart (a Kubernetes Secret)");
    }
  }
  absl::StatusOr<storage::PrivacyKeys> keys =
      storage::PrivacyKeys::FromSecret(secret);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_.privacy.secret_file.empty()
                         ? std::string("the privacy secret kept in the store")
                         : absl::StrCat("privacy.secret_file \"",
                                        config_.privacy.secret_file, "\""),
                     ": ", keys.status().message()));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> fingerprint,
                   store_->GetPrivacyValue("fingerprint"));
  if (!fingerprint.has_value()) {
    RETURN_IF_ERROR(
        store_->PutPrivacyValue("fingerprint", keys->Fingerprint()));
  } else if (*fingerprint != keys->Fingerprint()) {
    // Starting anyway would fail every join silently (pseudonyms would not
    // match) and lose the sealed ingest log.
    return absl::FailedPreconditionError(
        "the data folder was written under another privacy secret: start "
        "Vigie with the secret it was written under (privacy.secret_file), "
        "or on a new data folder");
  }
  keys_.emplace(*std::move(keys));
  return absl::OkStatus();
}

std::string Pipeline::PseudonymOf(absl::string_view model_id,
                                  absl::string_view prediction_id) const {
  return keys_->Pseudonym(model_id, prediction_id);
}

}  // namespace vigie::services
