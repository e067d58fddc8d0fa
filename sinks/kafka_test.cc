#include "sinks/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "sinks/alert_dispatcher.h"
#include "tests/testutil/kafka_cluster.h"
#include "tests/testutil/status_matchers.h"

namespace vigie::sinks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kTopic[] = "vigie-alerts";
constexpr int32_t kBroker = 1;  // The mock cluster numbers brokers from 1.

// Kafka brokers on loopback (testutil::KafkaCluster: librdkafka's mock
// cluster) with one broker, which can be made to fail, and the topic.
class MockCluster {
 public:
  explicit MockCluster(int partitions) : cluster_(/*brokers=*/1) {
    EXPECT_OK(cluster_.CreateTopic(kTopic, partitions,
                                   /*replication_factor=*/1));
  }

  std::string brokers() const { return cluster_.bootstraps(); }
  void SetDown() { rd_kafka_mock_broker_set_down(cluster_.mock(), kBroker); }
  void SetUp() { rd_kafka_mock_broker_set_up(cluster_.mock(), kBroker); }
  // The next `count` produce requests get `error`.
  void FailProduce(size_t count, rd_kafka_resp_err_t error) {
    std::vector<rd_kafka_resp_err_t> errors(count, error);
    rd_kafka_mock_push_request_errors_array(cluster_.mock(),
                                            /*ApiKey=Produce*/ 0, count,
                                            errors.data());
  }
  testutil::KafkaCluster& cluster() { return cluster_; }

 private:
  testutil::KafkaCluster cluster_;
};

struct Record {
  std::string key;
  vigie::v1::Alert alert;  // The value, parsed back.
  std::map<std::string, std::string> headers;
  int32_t partition = 0;
  int64_t timestamp_ms = 0;
};

// Reads the topic from its beginning with a real consumer until `count`
// records came (or 10 s passed), then a while longer to catch extras.
std::vector<Record> ReadTopic(MockCluster& cluster, size_t count) {
  absl::StatusOr<std::vector<testutil::KafkaCluster::Record>> read =
      cluster.cluster().ReadAll(kTopic, count, absl::Seconds(10));
  EXPECT_TRUE(read.ok()) << read.status();
  std::vector<Record> records;
  if (!read.ok()) return records;
  for (const testutil::KafkaCluster::Record& raw : *read) {
    Record& record = records.emplace_back();
    record.key = raw.key;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(raw.value, &record.alert)
            .ok())
        << raw.value;
    record.headers = raw.headers;
    record.partition = raw.partition;
    record.timestamp_ms = raw.timestamp_ms;
  }
  return records;
}

vigie::v1::Alert Firing(const std::string& fingerprint) {
  vigie::v1::Alert alert;
  alert.set_fingerprint(fingerprint);
  alert.set_rule_id("F3");
  alert.set_model_id("credit");
  alert.set_metric("equalized_odds_difference");
  (*alert.mutable_scope())["attribute"] = "race";
  alert.set_state(vigie::v1::ALERT_STATE_FIRING);
  alert.set_severity(vigie::v1::SEVERITY_CRITICAL);
  alert.set_value(0.23);
  alert.set_p_value(0.001);
  alert.set_threshold(0.1);
  alert.set_element("Q2.4/2.4.d");
  alert.add_ai_act_articles("Art. 10");
  vigie::v1::GroupSample* sample = alert.add_samples();
  sample->set_group("White");
  sample->set_predictions(1200);
  alert.mutable_started_at()->set_seconds(1'700'000'000);
  alert.mutable_updated_at()->set_seconds(1'700'000'000);
  return alert;
}

vigie::v1::Alert Resolved(const std::string& fingerprint) {
  vigie::v1::Alert alert = Firing(fingerprint);
  alert.set_state(vigie::v1::ALERT_STATE_RESOLVED);
  alert.mutable_resolved_at()->set_seconds(1'700'000'600);
  alert.mutable_updated_at()->set_seconds(1'700'000'600);
  return alert;
}

KafkaOptions Options(MockCluster& cluster) {
  KafkaOptions options;
  options.brokers = cluster.brokers();
  options.topic = kTopic;
  options.timeout = absl::Seconds(5);
  // A broker back up is found again within 100 ms, not librdkafka's 10 s.
  options.properties = {{"reconnect.backoff.max.ms", "100"}};
  return options;
}

// Calls Deliver until it succeeds, as the dispatcher would, for up to
// `patience`; the last status.
absl::Status DeliverWithin(KafkaSink& sink,
                           absl::Span<const vigie::v1::Alert> alerts,
                           absl::Duration patience) {
  const absl::Time deadline = absl::Now() + patience;
  absl::Status status = sink.Deliver(alerts, absl::Now());
  while (!status.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    status = sink.Deliver(alerts, absl::Now());
  }
  return status;
}

bool Same(const vigie::v1::Alert& a, const vigie::v1::Alert& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

TEST(KafkaSinkTest, OneMessagePerAlertKeyedByModelInOrder) {
  MockCluster cluster(/*partitions=*/3);
  ASSERT_OK_AND_ASSIGN(auto sink, KafkaSink::Create(Options(cluster)));
  vigie::v1::Alert other = Firing("c");
  other.set_model_id("churn");
  const std::vector<vigie::v1::Alert> alerts = {Firing("a"), other,
                                                Resolved("a")};
  ASSERT_OK(sink->Deliver(alerts, absl::Now()));
  const std::vector<Record> records = ReadTopic(cluster, 3);
  ASSERT_EQ(records.size(), 3u);
  std::vector<const Record*> credit;
  for (const Record& record : records) {
    EXPECT_EQ(record.key, record.alert.model_id());
    if (record.key == "credit") credit.push_back(&record);
  }
  // A model's notifications: one partition, in the order sent.
  ASSERT_EQ(credit.size(), 2u);
  EXPECT_EQ(credit[0]->partition, credit[1]->partition);
  EXPECT_EQ(credit[0]->alert.state(), vigie::v1::ALERT_STATE_FIRING);
  EXPECT_EQ(credit[1]->alert.state(), vigie::v1::ALERT_STATE_RESOLVED);
}

TEST(KafkaSinkTest, OneMessagePerAlertKeyedByFingerprintInOrder) {
  MockCluster cluster(/*partitions=*/3);
  KafkaOptions options = Options(cluster);
  options.key = KafkaKey::kFingerprint;
  ASSERT_OK_AND_ASSIGN(auto sink, KafkaSink::Create(options));
  const absl::Time now = absl::FromUnixMillis(1'700'000'000'123);
  const std::vector<vigie::v1::Alert> first = {Firing("a"), Firing("b")};
  ASSERT_OK(sink->Deliver(first, now));
  const std::vector<vigie::v1::Alert> second = {Resolved("a")};
  ASSERT_OK(sink->Deliver(second, now + absl::Minutes(10)));

  const std::vector<Record> records = ReadTopic(cluster, 3);
  ASSERT_EQ(records.size(), 3u);
  std::vector<const Record*> a;
  for (const Record& record : records) {
    if (record.key == "a") a.push_back(&record);
    if (record.key == "b") {
      EXPECT_TRUE(Same(record.alert, first[1]));
    }
  }
  // One alert's notifications: one partition, in the order sent.
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0]->partition, a[1]->partition);
  EXPECT_TRUE(Same(a[0]->alert, first[0])) << a[0]->alert.DebugString();
  EXPECT_TRUE(Same(a[1]->alert, second[0])) << a[1]->alert.DebugString();
  EXPECT_EQ(a[0]->timestamp_ms, 1'700'000'000'123);
  EXPECT_THAT(
      a[1]->headers,
      ElementsAre(Pair("content-type", "application/json"),
                  Pair("vigie-model", "credit"), Pair("vigie-rule", "F3"),
                  Pair("vigie-severity", "SEVERITY_CRITICAL"),
                  Pair("vigie-state", "ALERT_STATE_RESOLVED")));
}

TEST(KafkaSinkTest, ABrokerDownFailsWithinTheTimeoutThenDelivers) {
  MockCluster cluster(/*partitions=*/1);
  KafkaOptions options = Options(cluster);
  options.timeout = absl::Seconds(1);
  ASSERT_OK_AND_ASSIGN(auto sink, KafkaSink::Create(options));
  cluster.SetDown();
  const std::vector<vigie::v1::Alert> alerts = {Firing("a")};
  const absl::Time start = absl::Now();
  const absl::Status down = sink->Deliver(alerts, absl::Now());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1500));
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_THAT(down.message(),
              HasSubstr("1 of 1 alerts not acknowledged within 1s"));

  cluster.SetUp();
  // Reconnecting takes a moment.
  ASSERT_OK(DeliverWithin(*sink, alerts, absl::Seconds(10)));
  const std::vector<Record> records = ReadTopic(cluster, 1);
  ASSERT_EQ(records.size(), 1u);  // The failed call left nothing behind.
  EXPECT_EQ(records[0].alert.fingerprint(), "a");
}

TEST(KafkaSinkTest, RetriableBrokerErrorsAreRetriedWithinTheCall) {
  MockCluster cluster(/*partitions=*/1);
  ASSERT_OK_AND_ASSIGN(auto sink, KafkaSink::Create(Options(cluster)));
  cluster.FailProduce(2, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  const std::vector<vigie::v1::Alert> alerts = {Firing("a"), Firing("b")};
  ASSERT_OK(sink->Deliver(alerts, absl::Now()));
  // The idempotent producer wrote each once despite its retries.
  EXPECT_EQ(ReadTopic(cluster, 2).size(), 2u);
}

TEST(KafkaSinkTest, ARefusedTopicFailsTheCallUntilAllowedAgain) {
  MockCluster cluster(/*partitions=*/1);
  ASSERT_OK_AND_ASSIGN(auto sink, KafkaSink::Create(Options(cluster)));
  cluster.FailProduce(1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  const std::vector<vigie::v1::Alert> alerts = {Firing("a")};
  const absl::Status refused = sink->Deliver(alerts, absl::Now());
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << refused;
  EXPECT_THAT(
      refused.message(),
      HasSubstr(
          "1 of 1 alerts not delivered: Broker: Topic authorization failed"));
  // librdkafka holds the topic as refused until its metadata is fetched
  // again, about a second later, failing calls at once till then.
  ASSERT_OK(DeliverWithin(*sink, alerts, absl::Seconds(10)));
  const std::vector<Record> records = ReadTopic(cluster, 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].alert.fingerprint(), "a");
}

TEST(KafkaSinkTest, TheDispatcherRetriesUntilTheBrokerIsBack) {
  MockCluster cluster(/*partitions=*/1);
  KafkaOptions kafka = Options(cluster);
  kafka.timeout = absl::Milliseconds(200);
  ASSERT_OK_AND_ASSIGN(auto sink, KafkaSink::Create(kafka));
  cluster.SetDown();
  std::vector<std::unique_ptr<AlertSink>> sinks;
  sinks.push_back(std::move(sink));
  DispatcherOptions options;
  options.resend_interval = absl::Hours(1);
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(40);
  AlertDispatcher dispatcher(std::move(sinks), options);
  dispatcher.Update(Firing("a"), /*transition=*/true);

  auto wait_for = [&](auto done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done(dispatcher.Stats()[0])) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  };
  ASSERT_TRUE(wait_for([](const AlertDispatcher::SinkStats& stats) {
    return stats.failed_attempts >= 2;
  }));
  EXPECT_THAT(dispatcher.Stats()[0].last_error,
              HasSubstr("not acknowledged within 200ms"));
  cluster.SetUp();
  ASSERT_TRUE(wait_for([](const AlertDispatcher::SinkStats& stats) {
    return stats.deliveries == 1;
  }));
  const std::vector<Record> records = ReadTopic(cluster, 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].alert.fingerprint(), "a");
  EXPECT_EQ(records[0].alert.state(), vigie::v1::ALERT_STATE_FIRING);
}

TEST(KafkaOptionsTest, BrokersTopicTimeoutAndProperties) {
  KafkaOptions options;
  EXPECT_THAT(options.Validate().message(), HasSubstr("brokers"));
  options.brokers = "kafka-1:9092,kafka-2:9092";
  EXPECT_OK(options.Validate());
  options.timeout = absl::Minutes(2);
  EXPECT_THAT(options.Validate().message(),
              HasSubstr("kafka.timeout must be in [100ms, 1m], got 2m"));
  options.timeout = absl::Seconds(5);
  options.properties = {{"compression.type", "zstd"}};
  EXPECT_OK(options.Validate());
  options.properties = {{"no.such.setting", "1"}};
  EXPECT_THAT(options.Validate().message(), HasSubstr("no.such.setting"));
  options.properties = {{"compression.type", "bogus"}};
  EXPECT_THAT(options.Validate().message(), HasSubstr("compression.type"));
  options.properties = {{"acks", "1"}};
  EXPECT_THAT(options.Validate().message(), HasSubstr("set by Vigie"));
}

}  // namespace
}  // namespace vigie::sinks
