#include "services/silences.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "proto/alert_names.h"
#include "services/proto_conversions.h"

namespace vigie::services {
namespace {

// The value of the alert's field `name`, or of its scope key; empty when
// it has none.
std::string FieldOf(const vigie::v1::Alert& alert, absl::string_view name) {
  if (name == "fingerprint") return alert.fingerprint();
  if (name == "rule_id") return alert.rule_id();
  if (name == "model_id") return alert.model_id();
  if (name == "metric") return alert.metric();
  if (name == "severity") return std::string(SeverityName(alert.severity()));
  auto it = alert.scope().find(std::string(name));
  return it == alert.scope().end() ? std::string() : it->second;
}

// A random (version 4) UUID.
std::string NewId(absl::BitGen& random) {
  const uint64_t high =
      (absl::Uniform<uint64_t>(random) & ~uint64_t{0xf000}) | uint64_t{0x4000};
  const uint64_t low =
      (absl::Uniform<uint64_t>(random) >> 2) | (uint64_t{1} << 63);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", high >> 32,
                         (high >> 16) & 0xffff, high & 0xffff, low >> 48,
                         low & 0xffffffffffff);
}

vigie::v1::Silence WithState(vigie::v1::Silence silence, absl::Time now) {
  silence.set_state(SilenceStateAt(silence, now));
  return silence;
}

}  // namespace

bool SilenceMatches(const vigie::v1::Silence& silence,
                    const vigie::v1::Alert& alert) {
  for (const vigie::v1::Matcher& matcher : silence.matchers()) {
    if (FieldOf(alert, matcher.name()) != matcher.value()) return false;
  }
  return silence.matchers_size() > 0;
}

vigie::v1::SilenceState SilenceStateAt(const vigie::v1::Silence& silence,
                                       absl::Time now) {
  if (now < FromProtoTime(silence.starts_at())) {
    return vigie::v1::SILENCE_STATE_PENDING;
  }
  if (now < FromProtoTime(silence.ends_at())) {
    return vigie::v1::SILENCE_STATE_ACTIVE;
  }
  return vigie::v1::SILENCE_STATE_EXPIRED;
}

absl::StatusOr<std::unique_ptr<Silences>> Silences::Load(
    storage::StateStore* store) {
  std::unique_ptr<Silences> silences(new Silences(store));
  ASSIGN_OR_RETURN(std::vector<vigie::v1::Silence> stored,
                   store->LoadSilences());
  absl::MutexLock lock(&silences->mu_);
  for (vigie::v1::Silence& silence : stored) {
    std::string id = silence.id();
    silences->silences_.insert_or_assign(std::move(id), std::move(silence));
  }
  return silences;
}

absl::StatusOr<vigie::v1::Silence> Silences::Create(
    const vigie::v1::CreateSilenceRequest& request, absl::Time now) {
  bool has_value = false;
  for (const vigie::v1::Matcher& matcher : request.matchers()) {
    if (matcher.name().empty()) {
      return absl::InvalidArgumentError("a matcher has no name");
    }
    if (matcher.name() == "severity" &&
        matcher.value() != SeverityName(vigie::v1::SEVERITY_WARNING) &&
        matcher.value() != SeverityName(vigie::v1::SEVERITY_CRITICAL) &&
        matcher.value() !=
            SeverityName(vigie::v1::SEVERITY_INSUFFICIENT_DATA)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "severity must be warning, critical or insufficient_data, got '",
          matcher.value(), "'"));
    }
    has_value = has_value || !matcher.value().empty();
  }
  if (!has_value) {
    // Alertmanager refuses these too: a silence of every alert is a typo
    // more often than a wish.
    return absl::InvalidArgumentError(
        "a silence needs at least one matcher with a value");
  }
  if (request.created_by().empty()) {
    return absl::InvalidArgumentError("created_by is required");
  }
  const absl::Time start =
      request.has_starts_at() ? FromProtoTime(request.starts_at()) : now;
  absl::Time end;
  switch (request.end_case()) {
    case vigie::v1::CreateSilenceRequest::kEndsAt:
      end = FromProtoTime(request.ends_at());
      break;
    case vigie::v1::CreateSilenceRequest::kDuration: {
      const absl::Duration duration =
          absl::Seconds(request.duration().seconds()) +
          absl::Nanoseconds(request.duration().nanos());
      if (duration <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "duration must be positive, got ", absl::FormatDuration(duration)));
      }
      end = start + duration;
      break;
    }
    default:
      return absl::InvalidArgumentError("ends_at or duration is required");
  }
  if (end <= start || end <= now) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ends_at (", absl::FormatTime(end), ") must be after both starts_at (",
        absl::FormatTime(start), ") and now (", absl::FormatTime(now), ")"));
  }
  vigie::v1::Silence silence;
  {
    absl::MutexLock lock(&mu_);
    silence.set_id(NewId(random_));
  }
  *silence.mutable_matchers() = request.matchers();
  *silence.mutable_starts_at() = ToProtoTime(start);
  *silence.mutable_ends_at() = ToProtoTime(end);
  silence.set_created_by(request.created_by());
  silence.set_comment(request.comment());
  *silence.mutable_created_at() = ToProtoTime(now);
  *silence.mutable_updated_at() = ToProtoTime(now);
  // Written outside the lock: alert routing reads the silences under the
  // pipeline's lock, and must not wait on a disk write.
  RETURN_IF_ERROR(store_->PutSilence(silence));
  absl::MutexLock lock(&mu_);
  silences_.insert_or_assign(silence.id(), silence);
  return WithState(std::move(silence), now);
}

absl::StatusOr<vigie::v1::Silence> Silences::Expire(absl::string_view id,
                                                    absl::Time now) {
  vigie::v1::Silence silence;
  {
    absl::MutexLock lock(&mu_);
    auto it = silences_.find(id);
    if (it == silences_.end()) {
      return absl::NotFoundError(absl::StrCat("no silence has id '", id, "'"));
    }
    silence = it->second;
  }
  if (SilenceStateAt(silence, now) == vigie::v1::SILENCE_STATE_EXPIRED) {
    return absl::FailedPreconditionError(
        absl::StrCat("silence '", id, "' already expired at ",
                     absl::FormatTime(FromProtoTime(silence.ends_at()))));
  }
  // A pending silence ends before it starts, as in Alertmanager.
  if (FromProtoTime(silence.starts_at()) > now) {
    *silence.mutable_starts_at() = ToProtoTime(now);
  }
  *silence.mutable_ends_at() = ToProtoTime(now);
  *silence.mutable_updated_at() = ToProtoTime(now);
  RETURN_IF_ERROR(store_->PutSilence(silence));
  absl::MutexLock lock(&mu_);
  silences_.insert_or_assign(silence.id(), silence);
  return WithState(std::move(silence), now);
}

std::vector<vigie::v1::Silence> Silences::List(bool include_expired,
                                               absl::Time now) const {
  std::vector<vigie::v1::Silence> listed;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, silence] : silences_) {
      vigie::v1::Silence with_state = WithState(silence, now);
      if (!include_expired &&
          with_state.state() == vigie::v1::SILENCE_STATE_EXPIRED) {
        continue;
      }
      listed.push_back(std::move(with_state));
    }
  }
  std::sort(listed.begin(), listed.end(),
            [](const vigie::v1::Silence& a, const vigie::v1::Silence& b) {
              const absl::Time ea = FromProtoTime(a.ends_at());
              const absl::Time eb = FromProtoTime(b.ends_at());
              if (ea != eb) return ea > eb;
              return a.id() < b.id();
            });
  return listed;
}

std::vector<std::string> Silences::Muting(const vigie::v1::Alert& alert,
                                          absl::Time now) const {
  std::vector<std::string> ids;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, silence] : silences_) {
    if (SilenceStateAt(silence, now) == vigie::v1::SILENCE_STATE_ACTIVE &&
        SilenceMatches(silence, alert)) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::Time Silences::NextChange(absl::Time now) const {
  absl::Time next = absl::InfiniteFuture();
  absl::MutexLock lock(&mu_);
  for (const auto& [id, silence] : silences_) {
    for (absl::Time t : {FromProtoTime(silence.starts_at()),
                         FromProtoTime(silence.ends_at())}) {
      if (t > now) next = std::min(next, t);
    }
  }
  return next;
}

absl::Status Silences::Collect(absl::Time now) {
  std::vector<std::string> old;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, silence] : silences_) {
      if (FromProtoTime(silence.ends_at()) + kExpiredRetention < now) {
        old.push_back(id);
      }
    }
  }
  for (const std::string& id : old) {
    RETURN_IF_ERROR(store_->DeleteSilence(id));
    absl::MutexLock lock(&mu_);
    silences_.erase(id);
  }
  return absl::OkStatus();
}

}  // namespace vigie::services
