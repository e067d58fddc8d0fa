#include "services/event_bytes.h"

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/field_reader.h"
#include "gmock/gmock.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/pipeline.h"
#include "storage/record_codec.h"
#include "storage/state_store.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "vigie/state/v1/state.pb.h"

namespace vigie::services {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;

constexpr int64_t kT0 = 1'767'571'200;  // 2026-01-05T00:00:00Z.

vigie::v1::Prediction Base(const std::string& model, const std::string& id) {
  vigie::v1::Prediction p;
  p.set_model_id(model);
  p.set_prediction_id(id);
  p.mutable_event_time()->set_seconds(kT0);
  (*p.mutable_groups())["sex"] = "F";
  (*p.mutable_features())["income"].set_numeric(42.5);
  (*p.mutable_features())["city"].set_categorical("Lyon");
  return p;
}

// `bytes` as a length-delimited field 1: an event in a request, or a
// prediction in an event.
std::string Field1(const std::string& bytes) {
  std::string out;
  storage::AppendField(&out, 1, bytes);
  return out;
}

// Bytes of an Event holding `prediction`, with `extra` appended inside the
// prediction: how a client may encode what protobuf parses as one message.
std::string EventBytes(const vigie::v1::Prediction& prediction,
                       const std::string& extra = "") {
  return Field1(prediction.SerializeAsString() + extra);
}

class EventBytesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config;
    ModelConfig binary;
    binary.id = "credit";
    binary.decision_threshold = 0.5;
    config.models.push_back(binary);
    ModelConfig multiclass;
    multiclass.id = "triage";
    multiclass.task = "multiclass";
    multiclass.monitors.classes = {"low", "mid", "high"};
    config.models.push_back(multiclass);
    config.accept_undeclared_models = false;
    storage::StateStoreOptions options;
    options.path = dir_.Join("state");
    ASSERT_OK_AND_ASSIGN(store_, storage::StateStore::Open(options));
    ASSERT_OK_AND_ASSIGN(pipeline_,
                         Pipeline::Create(config, store_.get(), &clock_));
  }

  testutil::TempDir dir_;
  common::FakeClock clock_{absl::FromUnixSeconds(kT0)};
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<Pipeline> pipeline_;
};

TEST(EventBytesOfTest, FindsEachEventAndRefusesWhatWouldNotLineUp) {
  vigie::v1::IngestRequest request;
  *request.add_events()->mutable_prediction() = Base("credit", "a");
  request.add_events()->mutable_outcome()->set_prediction_id("a");
  const std::string bytes = request.SerializeAsString();
  const std::vector<absl::string_view> events = EventBytesOf(bytes);
  ASSERT_EQ(events.size(), 2u);
  vigie::v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(std::string(events[1])));
  EXPECT_EQ(parsed.outcome().prediction_id(), "a");
  // Field 1 as a varint is an unknown field to protobuf, not an event.
  EXPECT_TRUE(EventBytesOf(bytes + std::string("\x08\x01", 2)).empty());
  EXPECT_TRUE(EventBytesOf(bytes + "\x0a\x05"
                                   "ab")
                  .empty());  // Truncated.
}

TEST(AppendPredictionEventTest, OnlyAnEventOfOnePredictionField) {
  std::string body;
  vigie::v1::Event outcome;
  outcome.mutable_outcome()->set_prediction_id("a");
  EXPECT_FALSE(AppendPredictionEvent(&body, outcome.SerializeAsString(), "")
                   .has_value());
  const std::string twice =
      EventBytes(Base("credit", "a")) + EventBytes(Base("credit", "b"));
  EXPECT_FALSE(AppendPredictionEvent(&body, twice, "").has_value());
  EXPECT_TRUE(body.empty());
}

// The bytes of a Prediction holding only the feature `name`: one features
// entry, as protobuf writes it.
std::string FeatureEntry(const std::string& name, double numeric) {
  vigie::v1::Prediction one;
  (*one.mutable_features())[name].set_numeric(numeric);
  return one.SerializeAsString();
}

// An event whose features are left out of the parse keeps them in its
// bytes, sorted by name after the prediction's other fields, those of one
// name in their order: protobuf parses the same message.
TEST(ParseIngestRequestTest, SortsFeaturesAndParsesTheSame) {
  vigie::v1::Prediction model_id;
  model_id.set_model_id("credit");
  vigie::v1::Prediction id;
  id.set_prediction_id("p1");
  const std::string unsorted =
      FeatureEntry("zeta", 1) + model_id.SerializeAsString() +
      FeatureEntry("alpha", 2) + FeatureEntry("zeta", 3) +
      id.SerializeAsString() + FeatureEntry("beta", 4) +
      FeatureEntry("alphabet-soup", 5) + FeatureEntry("alphabet", 6);
  const std::string sorted = FeatureEntry("a", 1) + FeatureEntry("b", 2);
  const std::string request_bytes =
      Field1(Field1(unsorted)) + Field1(Field1(sorted));
  google::protobuf::Arena arena;
  auto* request =
      google::protobuf::Arena::CreateMessage<vigie::v1::IngestRequest>(&arena);
  ArrivedEvents arrived;
  ASSERT_TRUE(ParseIngestRequest(request_bytes, request, &arrived));
  ASSERT_THAT(arrived.without_features, ElementsAre(true, true));
  ASSERT_EQ(arrived.bytes.size(), 2u);
  vigie::v1::Event expected;
  ASSERT_TRUE(expected.ParseFromString(Field1(unsorted)));
  EXPECT_EQ(expected.prediction().features().at("zeta").numeric(), 3);
  vigie::v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(std::string(arrived.bytes[0])));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, expected))
      << parsed.DebugString();
  ASSERT_EQ(arrived.bytes[0].size(), Field1(unsorted).size());
  // The prediction's fields in their new order: the others first, then the
  // entries.
  FieldReader event(arrived.bytes[0]);
  ASSERT_TRUE(event.Next());
  const std::string written(event.bytes());
  std::vector<std::string> order;
  FieldReader reader(written);
  size_t begin = 0;
  while (reader.Next()) {
    vigie::v1::Prediction field;
    ASSERT_TRUE(
        field.ParseFromString(written.substr(begin, reader.end() - begin)));
    if (reader.number() == 10) {
      const auto& [name, value] = *field.features().begin();
      order.push_back(absl::StrCat(name, "=", value.numeric()));
    } else {
      order.push_back(field.model_id() + field.prediction_id());
    }
    begin = reader.end();
  }
  EXPECT_FALSE(reader.malformed());
  EXPECT_THAT(order,
              ElementsAre("credit", "p1", "alpha=2", "alphabet=6",
                          "alphabet-soup=5", "beta=4", "zeta=1", "zeta=3"));
  // Sorted already: a view of the request's own bytes.
  EXPECT_EQ(arrived.bytes[1], Field1(sorted));
  EXPECT_GE(arrived.bytes[1].data(), request_bytes.data());
  EXPECT_LT(arrived.bytes[1].data(),
            request_bytes.data() + request_bytes.size());
}

// Receive makes the same record from the bytes events came in as from the
// parsed events, whatever the encoding: protobuf's parser is the judge.
TEST_F(EventBytesTest, RecordsFromBytesParseAsTheNormalisedEvents) {
  std::vector<std::string> events;
  // A binary score without its decision: validation fills it in.
  vigie::v1::Prediction score_only = Base("credit", "p1");
  score_only.mutable_binary()->set_score(0.7);
  events.push_back(EventBytes(score_only));
  // A decision given: nothing to append.
  vigie::v1::Prediction decided = Base("credit", "p2");
  decided.mutable_binary()->set_score(0.2);
  decided.mutable_binary()->set_decision(true);
  events.push_back(EventBytes(decided));
  // A multiclass prediction without its class.
  vigie::v1::Prediction classes = Base("triage", "p3");
  for (const auto& [label, p] : std::vector<std::pair<std::string, double>>{
           {"low", 0.2}, {"mid", 0.5}, {"high", 0.3}}) {
    vigie::v1::ClassProbability* c =
        classes.mutable_multiclass()->add_probabilities();
    c->set_label(label);
    c->set_probability(p);
  }
  events.push_back(EventBytes(classes));
  // A field given twice and an unknown field: the last model id wins, the
  // unknown field is kept.
  vigie::v1::Prediction twice = Base("other", "p4");
  twice.mutable_binary()->set_score(0.9);
  vigie::v1::Prediction last;
  last.set_model_id("credit");
  events.push_back(EventBytes(
      twice, last.SerializeAsString() + std::string("\xf8\x0f\x07", 3)));
  // Rejected (score out of range), and an outcome: serialized as parsed.
  vigie::v1::Prediction bad = Base("credit", "p5");
  bad.mutable_binary()->set_score(1.5);
  events.push_back(EventBytes(bad));
  vigie::v1::Event outcome;
  outcome.mutable_outcome()->set_model_id("credit");
  outcome.mutable_outcome()->set_prediction_id("p1");
  outcome.mutable_outcome()->set_binary(true);
  events.push_back(outcome.SerializeAsString());

  std::string request_bytes;
  for (const std::string& e : events) request_bytes += Field1(e);
  vigie::v1::IngestRequest parsed_once;
  vigie::v1::IngestRequest parsed_twice;
  ASSERT_TRUE(parsed_once.ParseFromString(request_bytes));
  ASSERT_TRUE(parsed_twice.ParseFromString(request_bytes));
  const Pipeline::Received serialized = pipeline_->Receive(parsed_once);
  const Pipeline::Received copied = pipeline_->Receive(
      parsed_twice, ArrivedEvents{EventBytesOf(request_bytes), {}, {}});

  state::v1::IngestRecord a;
  state::v1::IngestRecord b;
  ASSERT_TRUE(a.ParseFromString(serialized.record));
  ASSERT_TRUE(b.ParseFromString(copied.record));
  vigie::v1::IngestRequest from_serialized;
  vigie::v1::IngestRequest from_copied;
  ASSERT_TRUE(from_serialized.ParseFromString(a.request()));
  ASSERT_TRUE(from_copied.ParseFromString(b.request()));
  ASSERT_EQ(from_copied.events_size(), 6);
  EXPECT_TRUE(MessageDifferencer::Equals(from_serialized, from_copied))
      << from_serialized.DebugString() << "\nvs\n"
      << from_copied.DebugString();
  // What validation filled in is there.
  EXPECT_TRUE(from_copied.events(0).prediction().binary().decision());
  EXPECT_EQ(from_copied.events(2).prediction().multiclass().predicted_class(),
            "mid");
  EXPECT_EQ(from_copied.events(3).prediction().model_id(), "credit");
  // The copy holds the client's bytes, the first model id given with them;
  // serializing keeps only the last.
  EXPECT_NE(copied.record.find(twice.SerializeAsString()), std::string::npos);
  EXPECT_EQ(serialized.record.find("other"), std::string::npos);

  // Each valid prediction's span is its whole normalised prediction.
  ASSERT_EQ(copied.predictions.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const auto [offset, length] = copied.predictions[i];
    const bool valid = i < 4;
    ASSERT_EQ(length > 0, valid) << "event " << i;
    ASSERT_EQ(serialized.predictions[i].second > 0, valid) << "event " << i;
    if (!valid) continue;
    vigie::v1::Prediction span;
    ASSERT_TRUE(span.ParseFromString(copied.record.substr(offset, length)));
    EXPECT_TRUE(MessageDifferencer::Equals(
        span, from_serialized.events(static_cast<int>(i)).prediction()))
        << "event " << i;
  }
}

// A field of `number` holding `bytes`.
std::string Field(int number, const std::string& bytes) {
  std::string out;
  storage::AppendField(&out, number, bytes);
  return out;
}

// One features map entry, as a client encodes it: key, then value.
std::string FeatureEntry(const std::string& name,
                         const vigie::v1::FeatureValue& value) {
  return Field(10, Field(1, name) + Field(2, value.SerializeAsString()));
}

vigie::v1::FeatureValue Numeric(double x) {
  vigie::v1::FeatureValue v;
  v.set_numeric(x);
  return v;
}

vigie::v1::FeatureValue Category(const std::string& c) {
  vigie::v1::FeatureValue v;
  v.set_categorical(c);
  return v;
}

// ParseEvent against protobuf's own parse of the same bytes: the same
// message, features aside when it says it left them out; whole when any
// feature is one validation or protobuf would refuse or read otherwise.
TEST(ParseEventTest, LeavesOutOnlyFeaturesValidationAccepts) {
  vigie::v1::Prediction head = Base("credit", "p1");
  head.clear_features();
  head.mutable_binary()->set_score(0.25);
  const std::string h = head.SerializeAsString();
  const std::string income = FeatureEntry("income", Numeric(42.5));
  const std::string city = FeatureEntry("city", Category("Lyon"));
  struct Case {
    std::string name;
    std::string prediction;  // The Prediction's bytes.
    bool left_out;
  };
  const std::vector<Case> cases = {
      {"features after the other fields", h + income + city, true},
      {"features between them", income + h + city, true},
      {"a feature without a value (missing)", h + Field(10, Field(1, "tenure")),
       true},
      {"an empty value (missing)",
       h + Field(10, Field(1, "tenure") + Field(2, "")), true},
      {"no features: nothing to leave out", h, false},
      {"an empty name", h + FeatureEntry("", Numeric(1)), false},
      {"no name", h + Field(10, Field(2, Numeric(1).SerializeAsString())),
       false},
      {"not a number", h + FeatureEntry("x", Numeric(std::nan(""))), false},
      {"infinite",
       h + FeatureEntry("x", Numeric(std::numeric_limits<double>::infinity())),
       false},
      {"a name in UTF-8, left to protobuf",
       h + FeatureEntry("\xc3\xa2ge", Numeric(30)), false},
      {"a category in UTF-8, left to protobuf",
       h + FeatureEntry("city", Category("Besan\xc3\xa7on")), false},
      {"a name given twice",
       h + Field(10, Field(1, "a") + Field(1, "b") +
                         Field(2, Numeric(1).SerializeAsString())),
       false},
      {"a value with two members (a oneof switch)",
       h + Field(10, Field(1, "a") +
                         Field(2, Numeric(1).SerializeAsString() +
                                      Category("c").SerializeAsString())),
       false},
      {"an unknown field in an entry",
       h + Field(10, Field(1, "a") + Field(3, "?")), false},
      {"one bad feature among good ones",
       h + income + FeatureEntry("", Numeric(1)) + city, false},
  };
  std::string scratch;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string bytes = Field1(c.prediction);
    vigie::v1::Event whole;
    ASSERT_TRUE(whole.ParseFromString(bytes));
    vigie::v1::Event event;
    event.mutable_outcome()->set_model_id("stale");  // Cleared first.
    bool without = !c.left_out;
    ASSERT_TRUE(ParseEvent(bytes, &event, &without, &scratch));
    EXPECT_EQ(without, c.left_out);
    if (c.left_out) {
      EXPECT_GT(whole.prediction().features_size(), 0);
      whole.mutable_prediction()->clear_features();
    }
    // As text, where NaN equals NaN and map entries are sorted.
    EXPECT_EQ(event.DebugString(), whole.DebugString());
  }
}

TEST(ParseEventTest, FailsWhereProtobufFails) {
  vigie::v1::Prediction head = Base("credit", "p1");
  head.clear_features();
  std::string scratch;
  const std::vector<std::string> bad = {
      // A name that is not UTF-8: protobuf refuses a proto3 string.
      Field1(head.SerializeAsString() + FeatureEntry("\xff", Numeric(1))),
      // Truncated inside the prediction.
      Field1(head.SerializeAsString()).substr(0, 10),
  };
  for (const std::string& bytes : bad) {
    vigie::v1::Event whole;
    ASSERT_FALSE(whole.ParseFromString(bytes));
    vigie::v1::Event event;
    bool without = true;
    EXPECT_FALSE(ParseEvent(bytes, &event, &without, &scratch));
  }
  // Outcomes and events of several fields are parsed whole.
  vigie::v1::Event outcome;
  outcome.mutable_outcome()->set_prediction_id("a");
  const std::string two =
      EventBytes(Base("credit", "a")) + EventBytes(Base("credit", "b"));
  for (const std::string& bytes : {outcome.SerializeAsString(), two}) {
    vigie::v1::Event whole;
    ASSERT_TRUE(whole.ParseFromString(bytes));
    vigie::v1::Event event;
    bool without = true;
    ASSERT_TRUE(ParseEvent(bytes, &event, &without, &scratch));
    EXPECT_FALSE(without);
    EXPECT_TRUE(MessageDifferencer::Equals(event, whole));
  }
}

TEST(ParseIngestRequestTest, ParsesEventByEventOrWhole) {
  vigie::v1::IngestRequest request;
  *request.add_events()->mutable_prediction() = Base("credit", "a");
  request.add_events()->mutable_outcome()->set_prediction_id("a");
  vigie::v1::Prediction bad = Base("credit", "b");
  (*bad.mutable_features())["x"].set_numeric(std::nan(""));
  *request.add_events()->mutable_prediction() = bad;
  const std::string bytes = request.SerializeAsString();

  vigie::v1::IngestRequest parsed;
  ArrivedEvents arrived;
  ASSERT_TRUE(ParseIngestRequest(bytes, &parsed, &arrived));
  // The events parsed whole are views of the request; the first is too,
  // or its copy with its features sorted if the map's hash order put them
  // out of order: the same message either way.
  const std::vector<absl::string_view> views = EventBytesOf(bytes);
  ASSERT_EQ(arrived.bytes.size(), 3u);
  EXPECT_EQ(arrived.bytes[1], views[1]);
  EXPECT_EQ(arrived.bytes[2], views[2]);
  EXPECT_EQ(arrived.bytes[0].size(), views[0].size());
  vigie::v1::Event first;
  ASSERT_TRUE(first.ParseFromString(std::string(arrived.bytes[0])));
  EXPECT_TRUE(MessageDifferencer::Equals(first, request.events(0)));
  EXPECT_EQ(arrived.without_features, (std::vector<bool>{true, false, false}));
  vigie::v1::IngestRequest expected = request;
  expected.mutable_events(0)->mutable_prediction()->clear_features();
  EXPECT_EQ(parsed.DebugString(), expected.DebugString());  // NaN == NaN.

  // Bytes EventBytesOf does not split are parsed whole, or refused.
  const std::string unknown = bytes + std::string("\x08\x01", 2);
  ASSERT_TRUE(ParseIngestRequest(unknown, &parsed, &arrived));
  EXPECT_TRUE(arrived.bytes.empty());
  EXPECT_TRUE(arrived.without_features.empty());
  EXPECT_EQ(parsed.events_size(), 3);
  EXPECT_EQ(parsed.events(0).prediction().features_size(), 2);
  EXPECT_FALSE(
      ParseIngestRequest(bytes.substr(0, bytes.size() - 3), &parsed, &arrived));
}

// A prediction parsed without its features that Receive does not validate
// is parsed again whole, so that it is validated under the lock, and
// logged, with its features; a valid one's record keeps them from its bytes.
TEST_F(EventBytesTest, ReceiveLogsEveryPredictionWithItsFeatures) {
  vigie::v1::IngestRequest request;
  vigie::v1::Prediction valid = Base("credit", "p1");
  valid.mutable_binary()->set_score(0.7);
  *request.add_events()->mutable_prediction() = valid;
  vigie::v1::Prediction out_of_range = Base("credit", "p2");
  out_of_range.mutable_binary()->set_score(1.5);
  *request.add_events()->mutable_prediction() = out_of_range;
  vigie::v1::Prediction undeclared = Base("nobody", "p3");
  undeclared.mutable_binary()->set_score(0.1);
  *request.add_events()->mutable_prediction() = undeclared;
  const std::string bytes = request.SerializeAsString();

  vigie::v1::IngestRequest parsed;
  ArrivedEvents arrived;
  ASSERT_TRUE(ParseIngestRequest(bytes, &parsed, &arrived));
  ASSERT_EQ(arrived.without_features, (std::vector<bool>(3, true)));
  const Pipeline::Received received = pipeline_->Receive(parsed, arrived);
  EXPECT_GT(received.predictions[0].second, 0u);
  EXPECT_EQ(received.predictions[1].second, 0u);
  EXPECT_EQ(received.predictions[2].second, 0u);
  // Parsed again whole: the message has its features back.
  EXPECT_EQ(parsed.events(0).prediction().features_size(), 0);
  EXPECT_EQ(parsed.events(1).prediction().features_size(), 2);
  EXPECT_EQ(parsed.events(2).prediction().features_size(), 2);

  state::v1::IngestRecord record;
  ASSERT_TRUE(record.ParseFromString(received.record));
  vigie::v1::IngestRequest logged;
  ASSERT_TRUE(logged.ParseFromString(record.request()));
  ASSERT_EQ(logged.events_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const auto& features = logged.events(i).prediction().features();
    ASSERT_EQ(features.size(), 2u) << "event " << i;
    EXPECT_EQ(features.at("income").numeric(), 42.5);
    EXPECT_EQ(features.at("city").categorical(), "Lyon");
  }

  // And applied, the rejections are those of the whole messages.
  ASSERT_OK_AND_ASSIGN(const vigie::v1::IngestReply reply,
                       pipeline_->Ingest(parsed, 0, received));
  EXPECT_EQ(reply.accepted(), 1u);
  ASSERT_EQ(reply.rejections_size(), 2);
  EXPECT_EQ(reply.rejections(0).reason(),
            vigie::v1::REJECT_REASON_INVALID_SCORE);
  EXPECT_EQ(reply.rejections(1).reason(),
            vigie::v1::REJECT_REASON_UNKNOWN_MODEL);
}

// The same events through a pipeline that parses them whole and through
// one that leaves their features out of the parse (as the gRPC and Kafka
// ingest do) give the same metrics, features' drift included: the features
// reach the monitors from the bytes.
TEST(ParsedWithoutFeaturesTest, SameMetricsAsParsedWhole) {
  ServerConfig config;
  ModelConfig model;
  model.id = "credit";
  model.reference_window = absl::Hours(1);
  model.reference_time = absl::FromUnixSeconds(kT0);
  config.models.push_back(model);
  config.accept_undeclared_models = false;
  // 40 predictions in the reference hour, 60 two hours later.
  vigie::v1::IngestRequest request;
  for (int i = 0; i < 100; ++i) {
    vigie::v1::Prediction p = Base("credit", absl::StrCat("p", i));
    const bool reference = i < 40;
    p.mutable_event_time()->set_seconds(kT0 + (reference ? 60 : 7260) + i);
    p.mutable_binary()->set_score(0.01 * i);
    (*p.mutable_features())["income"].set_numeric(reference ? i : 2.0 * i);
    (*p.mutable_features())["city"].set_categorical(i % 3 == 0 ? "Lyon"
                                                               : "Paris");
    *request.add_events()->mutable_prediction() = p;
  }
  const std::string bytes = request.SerializeAsString();

  std::vector<vigie::v1::GetMetricsReply> replies;
  for (const bool leave_out : {false, true}) {
    SCOPED_TRACE(leave_out ? "features left out" : "parsed whole");
    testutil::TempDir dir;
    common::FakeClock clock(absl::FromUnixSeconds(kT0 + 3 * 3600));
    storage::StateStoreOptions options;
    options.path = dir.Join("state");
    ASSERT_OK_AND_ASSIGN(auto store, storage::StateStore::Open(options));
    ASSERT_OK_AND_ASSIGN(auto pipeline,
                         Pipeline::Create(config, store.get(), &clock));
    vigie::v1::IngestRequest parsed;
    ArrivedEvents arrived;
    if (leave_out) {
      ASSERT_TRUE(ParseIngestRequest(bytes, &parsed, &arrived));
      ASSERT_EQ(arrived.without_features, std::vector<bool>(100, true));
    } else {
      ASSERT_TRUE(parsed.ParseFromString(bytes));
    }
    const Pipeline::Received received = pipeline->Receive(parsed, arrived);
    ASSERT_OK_AND_ASSIGN(const vigie::v1::IngestReply reply,
                         pipeline->Ingest(parsed, 0, received));
    ASSERT_EQ(reply.accepted(), 100u);
    vigie::v1::GetMetricsRequest query;
    query.set_model_id("credit");
    query.mutable_last()->set_seconds(3600);
    ASSERT_OK_AND_ASSIGN(replies.emplace_back(), pipeline->GetMetrics(query));
    const vigie::v1::GetMetricsReply& metrics = replies.back();
    // The two features, and the prediction's score.
    ASSERT_EQ(metrics.drift_size(), 3) << metrics.DebugString();
    std::vector<std::string> names;
    for (const vigie::v1::FeatureDrift& drift : metrics.drift()) {
      names.push_back(drift.feature());
      EXPECT_EQ(drift.current_count(), 60u) << drift.feature();
      EXPECT_EQ(drift.reference_count(), 40u) << drift.feature();
    }
    EXPECT_THAT(names, ::testing::IsSupersetOf({"income", "city"}));
  }
  EXPECT_TRUE(MessageDifferencer::Equals(replies[0], replies[1]))
      << replies[0].DebugString() << "\nvs\n"
      << replies[1].DebugString();
}

}  // namespace
}  // namespace vigie::services
