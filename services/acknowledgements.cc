#include "services/acknowledgements.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/proto_conversions.h"

namespace vigie::services {
namespace {

bool Holds(const state::v1::AcknowledgementState& acknowledgement,
           const vigie::v1::Alert& alert) {
  return alert.state() == vigie::v1::ALERT_STATE_FIRING &&
         alert.severity() == acknowledgement.severity() &&
         google::protobuf::util::MessageDifferencer::Equals(
             alert.started_at(), acknowledgement.started_at());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Acknowledgements>> Acknowledgements::Load(
    storage::StateStore* store) {
  std::unique_ptr<Acknowledgements> acknowledgements(
      new Acknowledgements(store));
  ASSIGN_OR_RETURN(std::vector<state::v1::AcknowledgementState> stored,
                   store->LoadAcknowledgements());
  absl::MutexLock lock(&acknowledgements->mu_);
  for (state::v1::AcknowledgementState& acknowledgement : stored) {
    std::string fingerprint = acknowledgement.fingerprint();
    acknowledgements->held_.insert_or_assign(std::move(fingerprint),
                                             std::move(acknowledgement));
  }
  return acknowledgements;
}

absl::Status Acknowledgements::Record(const vigie::v1::Alert& alert,
                                      absl::string_view by,
                                      absl::string_view comment,
                                      absl::Time now) {
  if (by.empty()) return absl::InvalidArgumentError("`by` is required");
  if (alert.state() != vigie::v1::ALERT_STATE_FIRING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "alert ", alert.fingerprint(), " is ",
        vigie::v1::AlertState_Name(alert.state()),
        ", not firing: only a firing alert was notified and can be "
        "acknowledged"));
  }
  state::v1::AcknowledgementState acknowledgement;
  acknowledgement.set_fingerprint(alert.fingerprint());
  acknowledgement.set_by(std::string(by));
  acknowledgement.set_comment(std::string(comment));
  *acknowledgement.mutable_at() = ToProtoTime(now);
  acknowledgement.set_severity(alert.severity());
  *acknowledgement.mutable_started_at() = alert.started_at();
  // Outside mu_: Apply runs under the pipeline's lock, and must not wait
  // on a disk write.
  absl::MutexLock write_lock(&write_mu_);
  RETURN_IF_ERROR(store_->PutAcknowledgement(acknowledgement));
  absl::MutexLock lock(&mu_);
  held_.insert_or_assign(alert.fingerprint(), std::move(acknowledgement));
  return absl::OkStatus();
}

void Acknowledgements::Apply(vigie::v1::Alert* alert) const {
  alert->clear_acknowledged_by();
  alert->clear_acknowledged_at();
  alert->clear_acknowledgement_comment();
  absl::MutexLock lock(&mu_);
  auto it = held_.find(alert->fingerprint());
  if (it == held_.end() || !Holds(it->second, *alert)) return;
  alert->set_acknowledged_by(it->second.by());
  *alert->mutable_acknowledged_at() = it->second.at();
  alert->set_acknowledgement_comment(it->second.comment());
}

void Acknowledgements::Release(const vigie::v1::Alert& alert) {
  absl::MutexLock lock(&mu_);
  auto it = held_.find(alert.fingerprint());
  if (it == held_.end() || Holds(it->second, alert)) return;
  released_.push_back(it->first);
  held_.erase(it);
}

bool Acknowledgements::HasReleased() const {
  absl::MutexLock lock(&mu_);
  return !released_.empty();
}

absl::Status Acknowledgements::Collect() {
  absl::MutexLock write_lock(&write_mu_);
  std::vector<std::string> released;
  {
    absl::MutexLock lock(&mu_);
    for (std::string& fingerprint : released_) {
      // Acknowledged again since: that record stays.
      if (!held_.contains(fingerprint)) {
        released.push_back(std::move(fingerprint));
      }
    }
    released_.clear();
  }
  for (size_t i = 0; i < released.size(); ++i) {
    if (absl::Status deleted = store_->DeleteAcknowledgement(released[i]);
        !deleted.ok()) {
      // Tried again at the next Collect; until then they show nowhere.
      absl::MutexLock lock(&mu_);
      released_.insert(released_.end(), released.begin() + i, released.end());
      return deleted;
    }
  }
  return absl::OkStatus();
}

}  // namespace vigie::services
