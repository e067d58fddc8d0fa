// Silences, acknowledgements and the router that applies them, over a real
// state store in a temporary folder and a fake clock.

#include "services/alert_router.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/acknowledgements.h"
#include "services/alert_watchers.h"
#include "services/proto_conversions.h"
#include "services/silences.h"
#include "storage/state_store.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie::services {
namespace {

using vigie::v1::Alert;

Alert MakeAlert(const std::string& fingerprint, vigie::v1::AlertState state,
                vigie::v1::Severity severity = vigie::v1::SEVERITY_WARNING,
                int64_t started = 1000) {
  Alert alert;
  alert.set_fingerprint(fingerprint);
  alert.set_rule_id("F3");
  alert.set_model_id("credit");
  alert.set_metric("equalized_odds_difference");
  (*alert.mutable_scope())["attribute"] = "race";
  alert.set_severity(severity);
  alert.set_state(state);
  alert.mutable_started_at()->set_seconds(started);
  alert.mutable_updated_at()->set_seconds(started);
  return alert;
}

vigie::v1::Matcher MakeMatcher(const std::string& name,
                               const std::string& value) {
  vigie::v1::Matcher matcher;
  matcher.set_name(name);
  matcher.set_value(value);
  return matcher;
}

vigie::v1::CreateSilenceRequest SilenceFor(
    std::vector<vigie::v1::Matcher> matchers, absl::Duration duration) {
  vigie::v1::CreateSilenceRequest request;
  for (auto& matcher : matchers) *request.add_matchers() = matcher;
  request.mutable_duration()->set_seconds(absl::ToInt64Seconds(duration));
  request.set_created_by("alice");
  request.set_comment("known issue, fix deploying");
  return request;
}

TEST(SilenceMatchesTest, EveryMatcherMustEqualItsFieldOrScopeKey) {
  const Alert alert = MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING,
                                vigie::v1::SEVERITY_CRITICAL);
  vigie::v1::Silence silence;
  *silence.add_matchers() = MakeMatcher("model_id", "credit");
  EXPECT_TRUE(SilenceMatches(silence, alert));
  *silence.add_matchers() = MakeMatcher("severity", "critical");
  *silence.add_matchers() = MakeMatcher("attribute", "race");
  *silence.add_matchers() = MakeMatcher("rule_id", "F3");
  EXPECT_TRUE(SilenceMatches(silence, alert));
  *silence.add_matchers() = MakeMatcher("metric", "demographic_parity");
  EXPECT_FALSE(SilenceMatches(silence, alert));

  vigie::v1::Silence other_scope;
  *other_scope.add_matchers() = MakeMatcher("attribute", "sex");
  EXPECT_FALSE(SilenceMatches(other_scope, alert));
  // An empty value matches a missing field.
  vigie::v1::Silence absent;
  *absent.add_matchers() = MakeMatcher("model_id", "credit");
  *absent.add_matchers() = MakeMatcher("class", "");
  EXPECT_TRUE(SilenceMatches(absent, alert));
  EXPECT_FALSE(SilenceMatches(vigie::v1::Silence(), alert));
}

class AlertRouterTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    storage::StateStoreOptions options;
    options.path = dir_.Join("state");
    ASSERT_OK_AND_ASSIGN(store_, storage::StateStore::Open(options));
    ASSERT_OK_AND_ASSIGN(silences_, Silences::Load(store_.get()));
    ASSERT_OK_AND_ASSIGN(acks_, Acknowledgements::Load(store_.get()));
    watchers_ = std::make_unique<AlertWatchers>();
    AlertRouter::Delivery delivery;
    delivery.deliver = [this](const Alert& alert, bool transition) {
      // What a dispatcher would notify: firing and resolved alerts.
      if (alert.state() == vigie::v1::ALERT_STATE_FIRING ||
          alert.state() == vigie::v1::ALERT_STATE_RESOLVED) {
        delivered_.push_back({alert, transition});
      }
    };
    delivery.withdraw = [this](const std::string& fingerprint) {
      withdrawn_.push_back(fingerprint);
    };
    router_ = std::make_unique<AlertRouter>(silences_.get(), acks_.get(),
                                            watchers_.get(),
                                            std::move(delivery), &clock_);
  }

  void Reopen() {
    router_.reset();
    watchers_.reset();
    acks_.reset();
    silences_.reset();
    store_.reset();
    Open();
  }

  // The states delivered since the last call, as "fingerprint:STATE" with
  // "!" for a transition.
  std::vector<std::string> TakeDelivered() {
    std::vector<std::string> out;
    for (const auto& [alert, transition] : delivered_) {
      out.push_back(
          absl::StrCat(alert.fingerprint(), ":",
                       vigie::v1::AlertState_Name(alert.state()).substr(12),
                       transition ? "!" : ""));
    }
    delivered_.clear();
    return out;
  }

  vigie::v1::Silence Silence(std::vector<vigie::v1::Matcher> matchers,
                             absl::Duration duration) {
    auto created = silences_->Create(SilenceFor(std::move(matchers), duration),
                                     clock_.Now());
    EXPECT_OK(created.status());
    router_->Refresh();
    return created.ok() ? *created : vigie::v1::Silence();
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<Silences> silences_;
  std::unique_ptr<Acknowledgements> acks_;
  std::unique_ptr<AlertWatchers> watchers_;
  std::unique_ptr<AlertRouter> router_;
  std::vector<std::pair<Alert, bool>> delivered_;
  std::vector<std::string> withdrawn_;
};

TEST_F(AlertRouterTest, SilencesAreValidated) {
  const absl::Time now = clock_.Now();
  auto code = [&](const vigie::v1::CreateSilenceRequest& request) {
    return silences_->Create(request, now).status().code();
  };
  const auto invalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code(SilenceFor({}, absl::Hours(1))), invalid);
  EXPECT_EQ(code(SilenceFor({MakeMatcher("model_id", "")}, absl::Hours(1))),
            invalid);
  EXPECT_EQ(code(SilenceFor({MakeMatcher("", "x")}, absl::Hours(1))), invalid);
  EXPECT_EQ(
      code(SilenceFor({MakeMatcher("severity", "urgent")}, absl::Hours(1))),
      invalid);
  EXPECT_EQ(code(SilenceFor({MakeMatcher("model_id", "credit")},
                            absl::ZeroDuration())),
            invalid);
  auto no_author = SilenceFor({MakeMatcher("model_id", "c")}, absl::Hours(1));
  no_author.clear_created_by();
  EXPECT_EQ(code(no_author), invalid);
  auto no_end = SilenceFor({MakeMatcher("model_id", "c")}, absl::Hours(1));
  no_end.clear_duration();
  EXPECT_EQ(code(no_end), invalid);
  auto past = SilenceFor({MakeMatcher("model_id", "c")}, absl::Hours(1));
  *past.mutable_ends_at() = ToProtoTime(now - absl::Minutes(1));
  EXPECT_EQ(code(past), invalid);
  EXPECT_EQ(silences_->List(/*include_expired=*/true, now).size(), 0u);
}

TEST_F(AlertRouterTest, SilencesStartEndAndExpireByTheClock) {
  auto request =
      SilenceFor({MakeMatcher("model_id", "credit")}, absl::Hours(1));
  *request.mutable_starts_at() = ToProtoTime(clock_.Now() + absl::Hours(1));
  ASSERT_OK_AND_ASSIGN(vigie::v1::Silence later,
                       silences_->Create(request, clock_.Now()));
  EXPECT_EQ(later.state(), vigie::v1::SILENCE_STATE_PENDING);
  EXPECT_EQ(later.id().size(), 36u);  // A UUID.
  const Alert alert = MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING);
  EXPECT_TRUE(silences_->Muting(alert, clock_.Now()).empty());
  EXPECT_EQ(silences_->NextChange(clock_.Now()), clock_.Now() + absl::Hours(1));

  clock_.Advance(absl::Minutes(90));
  EXPECT_EQ(silences_->Muting(alert, clock_.Now()),
            std::vector<std::string>{later.id()});
  clock_.Advance(absl::Minutes(30));
  EXPECT_TRUE(silences_->Muting(alert, clock_.Now()).empty());
  EXPECT_TRUE(silences_->List(false, clock_.Now()).empty());
  ASSERT_EQ(silences_->List(true, clock_.Now()).size(), 1u);
  EXPECT_EQ(silences_->List(true, clock_.Now())[0].state(),
            vigie::v1::SILENCE_STATE_EXPIRED);
  EXPECT_EQ(silences_->Expire(later.id(), clock_.Now()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(silences_->Expire("nope", clock_.Now()).status().code(),
            absl::StatusCode::kNotFound);

  // Kept five days after its end, then collected.
  clock_.Advance(Silences::kExpiredRetention - absl::Minutes(1));
  ASSERT_OK(silences_->Collect(clock_.Now()));
  EXPECT_EQ(silences_->List(true, clock_.Now()).size(), 1u);
  clock_.Advance(absl::Minutes(2));
  ASSERT_OK(silences_->Collect(clock_.Now()));
  EXPECT_TRUE(silences_->List(true, clock_.Now()).empty());
  Reopen();
  EXPECT_TRUE(silences_->List(true, clock_.Now()).empty());
}

TEST_F(AlertRouterTest, SilencesAndAcknowledgementsSurviveARestart) {
  const Alert firing = MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING);
  router_->Update(firing, true);
  const vigie::v1::Silence silence =
      Silence({MakeMatcher("rule_id", "F3")}, absl::Hours(2));
  ASSERT_OK(acks_->Record(firing, "bob", "looking", clock_.Now()));
  Reopen();
  ASSERT_EQ(silences_->List(false, clock_.Now()).size(), 1u);
  EXPECT_EQ(silences_->List(false, clock_.Now())[0].id(), silence.id());
  EXPECT_EQ(silences_->List(false, clock_.Now())[0].created_by(), "alice");
  Alert shown = firing;
  router_->Annotate(&shown);
  EXPECT_EQ(shown.acknowledged_by(), "bob");
  EXPECT_EQ(shown.acknowledgement_comment(), "looking");
  EXPECT_EQ(FromProtoTime(shown.acknowledged_at()), clock_.Now());
  ASSERT_EQ(shown.silenced_by_size(), 1);
  EXPECT_EQ(shown.silenced_by(0), silence.id());
}

TEST_F(AlertRouterTest, AMutedAlertIsDeliveredWhenItsSilenceEnds) {
  Silence({MakeMatcher("model_id", "credit")}, absl::Hours(1));
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING), true);
  router_->Update(MakeAlert("other", vigie::v1::ALERT_STATE_FIRING), true);
  EXPECT_TRUE(TakeDelivered().empty());  // Both are credit's.

  clock_.Advance(absl::Minutes(59));
  router_->Refresh();
  EXPECT_TRUE(TakeDelivered().empty());
  clock_.Advance(absl::Minutes(1));
  router_->Refresh();
  EXPECT_THAT(TakeDelivered(),
              ::testing::UnorderedElementsAre("f1:FIRING!", "other:FIRING!"));
  router_->Refresh();  // Nothing new.
  EXPECT_TRUE(TakeDelivered().empty());
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_RESOLVED), true);
  EXPECT_EQ(TakeDelivered(), std::vector<std::string>{"f1:RESOLVED!"});
}

TEST_F(AlertRouterTest, ExpiringASilenceDeliversWhatItMuted) {
  const vigie::v1::Silence silence =
      Silence({MakeMatcher("attribute", "race")}, absl::Hours(8));
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING), true);
  EXPECT_TRUE(TakeDelivered().empty());
  ASSERT_OK(silences_->Expire(silence.id(), clock_.Now()).status());
  router_->Refresh();
  EXPECT_EQ(TakeDelivered(), std::vector<std::string>{"f1:FIRING!"});
}

TEST_F(AlertRouterTest, TheResolutionOfADeliveredAlertGoesEvenIfSilenced) {
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING), true);
  EXPECT_EQ(TakeDelivered(), std::vector<std::string>{"f1:FIRING!"});
  Silence({MakeMatcher("fingerprint", "f1")}, absl::Hours(1));
  // Muted now: withdrawn from the sinks (no more resends) ...
  EXPECT_EQ(withdrawn_, std::vector<std::string>{"f1"});
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING,
                            vigie::v1::SEVERITY_CRITICAL),
                  true);
  EXPECT_TRUE(TakeDelivered().empty());
  // ... but a receiver that holds it open hears it resolve.
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_RESOLVED), true);
  EXPECT_EQ(TakeDelivered(), std::vector<std::string>{"f1:RESOLVED!"});
}

TEST_F(AlertRouterTest, AnAlertMutedThroughoutIsNeverDelivered) {
  Silence({MakeMatcher("model_id", "credit")}, absl::Hours(1));
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_PENDING), false);
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING), true);
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_RESOLVED), true);
  EXPECT_TRUE(TakeDelivered().empty());
  EXPECT_TRUE(withdrawn_.empty());
}

TEST_F(AlertRouterTest, AfterARestartAMutedAlertsResolutionStillGoes) {
  Silence({MakeMatcher("model_id", "credit")}, absl::Hours(1));
  // What a previous process may have delivered before the silence.
  const Alert firing = MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING);
  router_->Seed({firing, MakeAlert("old", vigie::v1::ALERT_STATE_RESOLVED)});
  router_->Update(firing, true);  // The pipeline's replay.
  EXPECT_TRUE(TakeDelivered().empty());
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_RESOLVED), true);
  EXPECT_EQ(TakeDelivered(), std::vector<std::string>{"f1:RESOLVED!"});
}

TEST_F(AlertRouterTest, AnAcknowledgementHoldsUntilResolutionOrNewSeverity) {
  const Alert warning = MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING);
  router_->Update(warning, true);
  EXPECT_EQ(acks_
                ->Record(MakeAlert("f1", vigie::v1::ALERT_STATE_PENDING), "bob",
                         "", clock_.Now())
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(acks_->Record(warning, "", "", clock_.Now()).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK(acks_->Record(warning, "bob", "on it", clock_.Now()));
  router_->Refresh();
  // The sinks get it for their next resend (not a transition).
  ASSERT_EQ(delivered_.size(), 2u);
  EXPECT_EQ(delivered_[1].first.acknowledged_by(), "bob");
  EXPECT_FALSE(delivered_[1].second);
  delivered_.clear();

  // A new severity is a new problem.
  const Alert critical = MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING,
                                   vigie::v1::SEVERITY_CRITICAL);
  router_->Update(critical, true);
  ASSERT_EQ(delivered_.size(), 1u);
  EXPECT_EQ(delivered_[0].first.acknowledged_by(), "");
  Alert shown = critical;
  router_->Annotate(&shown);
  EXPECT_EQ(shown.acknowledged_by(), "");
  // And the record goes, so that a restart does not bring it back.
  ASSERT_OK(acks_->Collect());
  ASSERT_OK_AND_ASSIGN(auto stored, store_->LoadAcknowledgements());
  EXPECT_TRUE(stored.empty());

  // Acknowledged again, then resolved: cleared too, and a later firing
  // (another start) is not acknowledged.
  ASSERT_OK(acks_->Record(critical, "carol", "", clock_.Now()));
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_RESOLVED,
                            vigie::v1::SEVERITY_CRITICAL),
                  true);
  Alert refired = MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING,
                            vigie::v1::SEVERITY_CRITICAL, /*started=*/5000);
  router_->Annotate(&refired);
  EXPECT_EQ(refired.acknowledged_by(), "");
  ASSERT_OK(acks_->Collect());
  ASSERT_OK_AND_ASSIGN(stored, store_->LoadAcknowledgements());
  EXPECT_TRUE(stored.empty());
}

TEST_F(AlertRouterTest, AWatcherGetsTheOpenAlertsThenEachChange) {
  router_->Seed({MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING),
                 MakeAlert("f2", vigie::v1::ALERT_STATE_PENDING),
                 MakeAlert("f3", vigie::v1::ALERT_STATE_RESOLVED)});
  ASSERT_OK_AND_ASSIGN(auto watcher, router_->Watch({}, [] {}));
  auto take = [&] {
    std::vector<std::string> out;
    for (auto next = watcher->Take(); next.update.has_value();
         next = watcher->Take()) {
      out.push_back(absl::StrCat(
          vigie::v1::AlertUpdateKind_Name(next.update->kind()).substr(18), " ",
          next.update->alert().fingerprint()));
    }
    return out;
  };
  EXPECT_EQ(take(),
            (std::vector<std::string>{"CURRENT f1", "CURRENT f2", "SYNCED "}));
  router_->Update(MakeAlert("f2", vigie::v1::ALERT_STATE_PENDING), false);
  router_->Update(MakeAlert("f2", vigie::v1::ALERT_STATE_FIRING), true);
  router_->Update(MakeAlert("f4", vigie::v1::ALERT_STATE_PENDING), false);
  Silence({MakeMatcher("fingerprint", "f1")}, absl::Hours(1));
  EXPECT_EQ(take(), (std::vector<std::string>{"TRANSITION f2", "TRANSITION f4",
                                              "ANNOTATED f1"}));
  // (The refresh of f2 went only to watchers that ask for refreshes.)
}

TEST_F(AlertRouterTest, OnlyADeliveringReplicaTellsTheSinks) {
  using vigie::v1::ALERT_STATE_FIRING;
  using vigie::v1::ALERT_STATE_RESOLVED;
  // A replica that does not lead: the sinks hear nothing.
  router_->SetDelivering(false);
  EXPECT_FALSE(router_->delivering());
  router_->Update(MakeAlert("f1", ALERT_STATE_FIRING), true);
  router_->Update(MakeAlert("f2", ALERT_STATE_FIRING), true);
  router_->Update(MakeAlert("f2", ALERT_STATE_FIRING), false);
  EXPECT_THAT(TakeDelivered(), ::testing::IsEmpty());

  // It leads: what fires is news to its sinks, and its refreshes are not.
  router_->SetDelivering(true);
  EXPECT_THAT(TakeDelivered(),
              ::testing::UnorderedElementsAre("f1:FIRING!", "f2:FIRING!"));
  router_->Update(MakeAlert("f1", ALERT_STATE_FIRING), false);
  EXPECT_THAT(TakeDelivered(), ::testing::ElementsAre("f1:FIRING"));

  // It no longer leads: its sinks stop resending, and hear of nothing.
  router_->SetDelivering(false);
  EXPECT_THAT(withdrawn_, ::testing::UnorderedElementsAre("f1", "f2"));
  router_->Update(MakeAlert("f1", ALERT_STATE_RESOLVED), true);
  EXPECT_THAT(TakeDelivered(), ::testing::IsEmpty());

  // Leading again: the alerts still firing, one of which fired while
  // another replica led, are news; their resolutions are delivered.
  router_->Update(MakeAlert("f3", ALERT_STATE_FIRING), true);
  router_->SetDelivering(true);
  EXPECT_THAT(TakeDelivered(),
              ::testing::UnorderedElementsAre("f2:FIRING!", "f3:FIRING!"));
  router_->Update(MakeAlert("f3", ALERT_STATE_RESOLVED), true);
  EXPECT_THAT(TakeDelivered(), ::testing::ElementsAre("f3:RESOLVED!"));
}

TEST_F(AlertRouterTest, AResolutionUnderAnotherLeaderIsDeliveredHere) {
  router_->SetDelivering(false);
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_FIRING), true);
  router_->SetDelivering(true);
  TakeDelivered();
  router_->SetDelivering(false);
  // Resolved while another replica leads: that one tells the receivers.
  router_->Update(MakeAlert("f1", vigie::v1::ALERT_STATE_RESOLVED), true);
  router_->SetDelivering(true);
  EXPECT_THAT(TakeDelivered(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace vigie::services
