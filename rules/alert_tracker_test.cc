#include "rules/alert_tracker.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vigie/v1/vigie.pb.h"

namespace vigie::rules {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

// FNV-1a 64 written out from its definition (offset basis and prime of
// the FNV specification), over each field's 8-byte little-endian length and
// bytes.
std::string ReferenceFingerprint(const std::vector<std::string>& fields) {
  uint64_t hash = 14695981039346656037ULL;
  auto mix = [&hash](unsigned char byte) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  };
  for (const std::string& field : fields) {
    for (int i = 0; i < 8; ++i) {
      mix(static_cast<unsigned char>((field.size() >> (8 * i)) & 0xff));
    }
    for (char c : field) mix(static_cast<unsigned char>(c));
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4)
    out[static_cast<size_t>(i)] = kHex[hash & 0xf];
  return out;
}

TEST(FingerprintTest, IsFnv1aOfLengthPrefixedFields) {
  // Computed independently (Python) when the format was fixed: a stored
  // alert's fingerprint must never change.
  EXPECT_EQ(Fingerprint("F3", "compas", "race"), "e6bab5bd47f83e44");
  EXPECT_EQ(Fingerprint("", "", ""), "81d23fd7003c2305");
  EXPECT_EQ(Fingerprint("F3", "compas", "race"),
            ReferenceFingerprint({"F3", "compas", "race"}));
  EXPECT_EQ(Fingerprint("F1", "model-7", "age_band"),
            ReferenceFingerprint({"F1", "model-7", "age_band"}));
}

TEST(FingerprintTest, FieldBoundariesMatter) {
  EXPECT_NE(Fingerprint("ab", "c", "d"), Fingerprint("a", "bc", "d"));
  EXPECT_NE(Fingerprint("F1", "m", "race"), Fingerprint("F1", "m", "sex"));
}

Policy TestPolicy() {
  Rule rule;
  rule.id = "F3";
  rule.metric = kEqualizedOddsDifference;
  rule.warning = Threshold{0.05, 0.05, std::nullopt, std::nullopt};
  rule.critical = Threshold{0.10, std::nullopt, 0.05, std::nullopt};
  rule.confidence = 0.95;
  rule.element = "Q2.4/2.4.d";
  rule.related_elements = {"Q2.5"};
  rule.ai_act_articles = {"Art. 10", "Art. 15"};
  rule.threshold_source = "Vigie default policy F3";
  Policy policy;
  policy.rules = {rule};
  return policy;
}

Finding MakeFinding(std::optional<Severity> severity, double value) {
  Finding f;
  f.rule_id = "F3";
  f.model_id = "compas";
  f.metric = kEqualizedOddsDifference;
  f.attribute = "race";
  f.severity = severity;
  f.value = value;
  f.high_group = "African-American";
  f.low_group = "Caucasian";
  f.interval = monitors::Interval{value - 0.03, value + 0.03};
  f.p_value = 1e-9;
  f.threshold = severity == Severity::kCritical ? 0.10 : 0.05;
  f.samples = {{"African-American", 3696, 1901, 1795},
               {"Caucasian", 2454, 966, 1488}};
  f.excluded_groups = {"Asian"};
  f.message = "value " + std::to_string(value);
  return f;
}

vigie::v1::TimeWindow Window(int64_t end_seconds) {
  vigie::v1::TimeWindow window;
  window.mutable_end()->set_seconds(end_seconds);
  return window;
}

// Stores `changes` the way a caller would.
void Apply(const std::vector<AlertChange>& changes,
           absl::flat_hash_map<std::string, vigie::v1::Alert>& store) {
  for (const AlertChange& change : changes) {
    store[change.alert.fingerprint()] = change.alert;
  }
}

TEST(TrackAlertsTest, NewBreachFiresWithEveryField) {
  const absl::Time now =
      absl::FromUnixSeconds(1700000000) + absl::Milliseconds(5);
  const std::vector<AlertChange> changes =
      TrackAlerts({MakeFinding(Severity::kWarning, 0.08)}, TestPolicy(), {},
                  Window(1000), now);
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_TRUE(changes[0].transition);
  const vigie::v1::Alert& a = changes[0].alert;
  EXPECT_EQ(a.fingerprint(), Fingerprint("F3", "compas", "race"));
  EXPECT_EQ(a.rule_id(), "F3");
  EXPECT_EQ(a.model_id(), "compas");
  EXPECT_EQ(a.metric(), kEqualizedOddsDifference);
  EXPECT_EQ(a.scope().at("attribute"), "race");
  EXPECT_EQ(a.severity(), vigie::v1::SEVERITY_WARNING);
  EXPECT_EQ(a.state(), vigie::v1::ALERT_STATE_FIRING);
  EXPECT_DOUBLE_EQ(a.value(), 0.08);
  EXPECT_DOUBLE_EQ(a.value_interval().lower(), 0.05);
  EXPECT_DOUBLE_EQ(a.value_interval().upper(), 0.11);
  EXPECT_DOUBLE_EQ(a.value_interval().level(), 0.95);
  ASSERT_TRUE(a.has_p_value());
  EXPECT_DOUBLE_EQ(a.p_value(), 1e-9);
  EXPECT_DOUBLE_EQ(a.threshold(), 0.05);
  EXPECT_EQ(a.comparison(), ">");
  EXPECT_EQ(a.threshold_source(), "Vigie default policy F3");
  ASSERT_THAT(a.samples(), SizeIs(2));
  EXPECT_EQ(a.samples(0).group(), "African-American");
  EXPECT_EQ(a.samples(0).predictions(), 3696u);
  EXPECT_EQ(a.samples(0).positives(), 1901u);
  EXPECT_EQ(a.samples(0).negatives(), 1795u);
  EXPECT_THAT(a.excluded_groups(), ElementsAre("Asian"));
  EXPECT_EQ(a.referential(), "labelia-dsrc@v202301");
  EXPECT_EQ(a.element(), "Q2.4/2.4.d");
  EXPECT_THAT(a.related_elements(), ElementsAre("Q2.5"));
  EXPECT_THAT(a.ai_act_articles(), ElementsAre("Art. 10", "Art. 15"));
  EXPECT_EQ(a.message(), "value 0.080000");
  EXPECT_EQ(a.window().end().seconds(), 1000);
  EXPECT_EQ(a.started_at().seconds(), 1700000000);
  EXPECT_EQ(a.started_at().nanos(), 5000000);
  EXPECT_EQ(a.updated_at().seconds(), 1700000000);
  EXPECT_FALSE(a.has_resolved_at());
  EXPECT_EQ(a.high_group(), "African-American");
  EXPECT_EQ(a.low_group(), "Caucasian");
}

TEST(TrackAlertsTest, LifecycleFiringEscalatesThenResolves) {
  const Policy policy = TestPolicy();
  absl::flat_hash_map<std::string, vigie::v1::Alert> store;
  const absl::Time t1 = absl::FromUnixSeconds(1000);
  const absl::Time t2 = absl::FromUnixSeconds(2000);
  const absl::Time t3 = absl::FromUnixSeconds(3000);
  const absl::Time t4 = absl::FromUnixSeconds(4000);

  std::vector<AlertChange> changes = TrackAlerts(
      {MakeFinding(Severity::kWarning, 0.08)}, policy, store, Window(1), t1);
  ASSERT_THAT(changes, SizeIs(1));
  Apply(changes, store);

  // The same finding again, even on a later window: nothing to store.
  EXPECT_THAT(TrackAlerts({MakeFinding(Severity::kWarning, 0.08)}, policy,
                          store, Window(2), t2),
              SizeIs(0));

  // Same severity, new value: a refresh, not a transition.
  changes = TrackAlerts({MakeFinding(Severity::kWarning, 0.09)}, policy, store,
                        Window(2), t2);
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_FALSE(changes[0].transition);
  EXPECT_DOUBLE_EQ(changes[0].alert.value(), 0.09);
  EXPECT_EQ(changes[0].alert.updated_at().seconds(), 1000);
  EXPECT_EQ(changes[0].alert.started_at().seconds(), 1000);
  Apply(changes, store);

  // Escalation to critical.
  changes = TrackAlerts({MakeFinding(Severity::kCritical, 0.2)}, policy, store,
                        Window(3), t3);
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_TRUE(changes[0].transition);
  EXPECT_EQ(changes[0].alert.severity(), vigie::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(changes[0].alert.state(), vigie::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(changes[0].alert.started_at().seconds(), 1000);
  EXPECT_EQ(changes[0].alert.updated_at().seconds(), 3000);
  EXPECT_DOUBLE_EQ(changes[0].alert.threshold(), 0.10);
  Apply(changes, store);

  // Healthy: resolved, keeping its last severity.
  changes = TrackAlerts({MakeFinding(std::nullopt, 0.01)}, policy, store,
                        Window(4), t4);
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_TRUE(changes[0].transition);
  const vigie::v1::Alert& resolved = changes[0].alert;
  EXPECT_EQ(resolved.state(), vigie::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(resolved.severity(), vigie::v1::SEVERITY_CRITICAL);
  EXPECT_EQ(resolved.started_at().seconds(), 1000);
  EXPECT_EQ(resolved.updated_at().seconds(), 4000);
  EXPECT_EQ(resolved.resolved_at().seconds(), 4000);
  EXPECT_DOUBLE_EQ(resolved.value(), 0.01);
  Apply(changes, store);

  // Healthy again: nothing. A new breach: a new firing alert.
  EXPECT_THAT(TrackAlerts({MakeFinding(std::nullopt, 0.01)}, policy, store,
                          Window(5), t4 + absl::Hours(1)),
              SizeIs(0));
  changes = TrackAlerts({MakeFinding(Severity::kInsufficientData, 0)}, policy,
                        store, Window(6), t4 + absl::Hours(2));
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_TRUE(changes[0].transition);
  EXPECT_EQ(changes[0].alert.state(), vigie::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(changes[0].alert.severity(), vigie::v1::SEVERITY_INSUFFICIENT_DATA);
  EXPECT_EQ(changes[0].alert.started_at().seconds(), 4000 + 7200);
  EXPECT_FALSE(changes[0].alert.has_resolved_at());
}

// Runs one evaluation per element of `breaches` (true: a warning breach,
// false: healthy), a minute apart, storing the changes; returns the
// transitions (notifications) and the state after each evaluation.
struct Evaluations {
  std::vector<vigie::v1::Alert> transitions;
  std::vector<vigie::v1::AlertState> states;
};
Evaluations Evaluate(const Policy& policy, const std::vector<bool>& breaches) {
  absl::flat_hash_map<std::string, vigie::v1::Alert> store;
  Evaluations run;
  absl::Time now = absl::FromUnixSeconds(100'000);
  for (size_t i = 0; i < breaches.size(); ++i, now += absl::Minutes(1)) {
    const Finding finding = breaches[i] ? MakeFinding(Severity::kWarning, 0.08)
                                        : MakeFinding(std::nullopt, 0.01);
    const std::vector<AlertChange> changes = TrackAlerts(
        {finding}, policy, store, Window(static_cast<int64_t>(i)), now);
    for (const AlertChange& change : changes) {
      if (change.transition) run.transitions.push_back(change.alert);
    }
    Apply(changes, store);
    run.states.push_back(store.empty() ? vigie::v1::ALERT_STATE_UNSPECIFIED
                                       : store.begin()->second.state());
  }
  return run;
}

TEST(TrackAlertsTest, ForHoldsAnAlertPendingUntilEnoughBreachesInARow) {
  Policy policy = TestPolicy();
  policy.rules[0].for_evaluations = 3;
  using S = vigie::v1::AlertState;
  const Evaluations run =
      Evaluate(policy, {true, true, false, true, true, true, true});
  EXPECT_THAT(run.states,
              ElementsAre(S::ALERT_STATE_PENDING, S::ALERT_STATE_PENDING,
                          S::ALERT_STATE_INACTIVE, S::ALERT_STATE_PENDING,
                          S::ALERT_STATE_PENDING, S::ALERT_STATE_FIRING,
                          S::ALERT_STATE_FIRING));
  // One notification: when the third breach in a row made it fire, and its
  // start is then, not the first pending evaluation's.
  ASSERT_THAT(run.transitions, SizeIs(1));
  EXPECT_EQ(run.transitions[0].state(), vigie::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(run.transitions[0].breaching_evaluations(), 3u);
  EXPECT_EQ(run.transitions[0].started_at().seconds(), 100'000 + 5 * 60);
}

TEST(TrackAlertsTest, AFlappingMetricWithForThreeNeverFires) {
  Policy policy = TestPolicy();
  policy.rules[0].for_evaluations = 3;
  std::vector<bool> flapping;
  for (int i = 0; i < 50; ++i) flapping.push_back(i % 2 == 0);
  EXPECT_THAT(Evaluate(policy, flapping).transitions, SizeIs(0));
  // Without `for`, the same metric opens and closes an alert every time.
  policy.rules[0].for_evaluations = 1;
  EXPECT_THAT(Evaluate(policy, flapping).transitions, SizeIs(50));
}

TEST(TrackAlertsTest, KeepFiringForBridgesShortRecoveries) {
  Policy policy = TestPolicy();
  policy.rules[0].keep_firing_for = 2;
  using S = vigie::v1::AlertState;
  // Fires, dips for two evaluations (kept firing), breaches again, then
  // recovers for three: resolved on the third.
  const Evaluations run =
      Evaluate(policy, {true, false, false, true, false, false, false, false});
  EXPECT_THAT(run.states,
              ElementsAre(S::ALERT_STATE_FIRING, S::ALERT_STATE_FIRING,
                          S::ALERT_STATE_FIRING, S::ALERT_STATE_FIRING,
                          S::ALERT_STATE_FIRING, S::ALERT_STATE_FIRING,
                          S::ALERT_STATE_RESOLVED, S::ALERT_STATE_RESOLVED));
  ASSERT_THAT(run.transitions, SizeIs(2));  // Fired once, resolved once.
  EXPECT_EQ(run.transitions[0].state(), vigie::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(run.transitions[1].state(), vigie::v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(run.transitions[1].resolved_at().seconds(), 100'000 + 6 * 60);
  // A flapping metric with keep_firing_for 1 fires once and stays firing.
  policy.rules[0].keep_firing_for = 1;
  std::vector<bool> flapping;
  for (int i = 0; i < 50; ++i) flapping.push_back(i % 2 == 0);
  const Evaluations flap = Evaluate(policy, flapping);
  ASSERT_THAT(flap.transitions, SizeIs(1));
  EXPECT_EQ(flap.states.back(), vigie::v1::ALERT_STATE_FIRING);
}

TEST(TrackAlertsTest, EvaluationsThatDoNotCountNeverAdvanceACount) {
  Policy policy = TestPolicy();
  policy.rules[0].for_evaluations = 3;
  policy.rules[0].keep_firing_for = 1;
  absl::flat_hash_map<std::string, vigie::v1::Alert> store;
  absl::Time now = absl::FromUnixSeconds(5000);
  const auto evaluate = [&](bool breach, bool counts) {
    now += absl::Seconds(1);
    const std::vector<AlertChange> changes =
        TrackAlerts({breach ? MakeFinding(Severity::kWarning, 0.08)
                            : MakeFinding(std::nullopt, 0.01)},
                    policy, store, Window(1), now, counts);
    Apply(changes, store);
    return store.begin()->second;
  };
  // A query's evaluation may start the count...
  EXPECT_EQ(evaluate(true, false).breaching_evaluations(), 1u);
  // ...but however often it polls, only counted evaluations advance it.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(evaluate(true, false).state(), vigie::v1::ALERT_STATE_PENDING);
  }
  EXPECT_EQ(store.begin()->second.breaching_evaluations(), 1u);
  EXPECT_EQ(evaluate(true, true).breaching_evaluations(), 2u);
  EXPECT_EQ(evaluate(true, true).state(), vigie::v1::ALERT_STATE_FIRING);
  // The same on the way down: one healthy evaluation is kept firing
  // (keep_firing_for 1), and polling does not make it two.
  EXPECT_EQ(evaluate(false, true).state(), vigie::v1::ALERT_STATE_FIRING);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(evaluate(false, false).state(), vigie::v1::ALERT_STATE_FIRING);
  }
  EXPECT_EQ(evaluate(false, true).state(), vigie::v1::ALERT_STATE_RESOLVED);
}

TEST(TrackAlertsTest, HealthyWithoutAlertAndAbsentFieldsAreQuiet) {
  EXPECT_THAT(TrackAlerts({MakeFinding(std::nullopt, 0.01)}, TestPolicy(), {},
                          Window(1), absl::FromUnixSeconds(1)),
              SizeIs(0));
  Finding bare = MakeFinding(Severity::kInsufficientData, 0);
  bare.value.reset();
  bare.interval.reset();
  bare.p_value.reset();
  const std::vector<AlertChange> changes = TrackAlerts(
      {bare}, TestPolicy(), {}, Window(1), absl::FromUnixSeconds(1));
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_EQ(changes[0].alert.value(), 0);
  EXPECT_FALSE(changes[0].alert.has_value_interval());
  EXPECT_FALSE(changes[0].alert.has_p_value());
}

TEST(TrackAlertsTest, NegativeTimesKeepNanosPositive) {
  const std::vector<AlertChange> changes = TrackAlerts(
      {MakeFinding(Severity::kWarning, 0.08)}, TestPolicy(), {}, Window(1),
      absl::FromUnixSeconds(-1) + absl::Milliseconds(250));
  ASSERT_THAT(changes, SizeIs(1));
  EXPECT_EQ(changes[0].alert.started_at().seconds(), -1);
  EXPECT_EQ(changes[0].alert.started_at().nanos(), 250000000);
}

}  // namespace
}  // namespace vigie::rules
