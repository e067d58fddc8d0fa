// Bad input through the whole path: a replayed JSON lines file with broken
// records among good ones, streamed to the real server.

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tools/client.h"
#include "tools/event_reader.h"

namespace vigie {
namespace {

std::string PredictionLine(const std::string& fields) {
  return R"({"prediction":{"modelId":"credit","eventTime":"2026-01-05T10:00:00Z",)" +
         fields + R"(,"groups":{"sex":"female"}}})";
}

TEST(BadInputTest, BadRecordsAreRejectedWithReasonsAndTheRestKept) {
  testutil::TempDir dir;
  const std::string file = dir.Join("events.jsonl");
  {
    std::ofstream out(file);
    out << PredictionLine(
               R"("modelVersion":"v1","predictionId":"p1","binary":{"score":0.8})")
        << "\n"  // 1: good.
        << PredictionLine(R"("modelVersion":"v1","binary":{"score":0.8})")
        << "\n"  // 2: no prediction id.
        << PredictionLine(
               R"("modelVersion":"v1","predictionId":"n","binary":{"score":"NaN"})")
        << "\n"  // 3: NaN score.
        << PredictionLine(
               R"("modelVersion":"v1","predictionId":"o","binary":{"score":1.5})")
        << "\n"  // 4: score out of range.
        << PredictionLine(
               R"("modelVersion":"v7","predictionId":"v","binary":{"score":0.2})")
        << "\n"  // 5: unknown model version.
        << R"({"prediction": {"modelId": "credit", )"
        << "\n"  // 6: broken JSON.
        << PredictionLine(
               R"("modelVersio":"v1","predictionId":"u","binary":{"score":0.2})")
        << "\n"  // 7: unknown field.
        << R"({"outcome":{"modelId":"credit","predictionId":"p1","eventTime":"2026-01-06T10:00:00Z","binary":true}})"
        << "\n"  // 8: good.
        << "\n"  // 9: blank, skipped.
        << PredictionLine(
               R"("modelVersion":"v1","predictionId":"p2","binary":{"score":0.3})")
        << "\n";  // 10: good.
  }

  ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                       services::DefaultServerConfig());
  config.data_dir = dir.Join("state");
  config.grpc_address = "127.0.0.1:0";
  config.http_address = "127.0.0.1:0";
  services::ModelConfig model = config.default_model;
  model.id = "credit";
  model.versions = {"v1"};
  config.models.push_back(model);
  common::FakeClock clock;
  ASSERT_OK_AND_ASSIGN(auto server,
                       services::VigieServer::Start(config, &clock));
  ASSERT_OK_AND_ASSIGN(auto client,
                       tools::VigieClient::Connect(server->address()));

  ASSERT_OK_AND_ASSIGN(auto reader, tools::EventReader::OpenJsonLines(file));
  ASSERT_OK_AND_ASSIGN(tools::StreamResult result,
                       client->StreamEvents(*reader, {}));
  EXPECT_EQ(result.reply.accepted(), 3u);
  EXPECT_EQ(result.reply.rejected(), 4u);
  EXPECT_EQ(result.reply.joined(), 1u);

  const std::map<int64_t, v1::RejectReason> expected = {
      {2, v1::REJECT_REASON_MISSING_PREDICTION_ID},
      {3, v1::REJECT_REASON_INVALID_SCORE},
      {4, v1::REJECT_REASON_INVALID_SCORE},
      {5, v1::REJECT_REASON_UNKNOWN_MODEL_VERSION},
      {6, v1::REJECT_REASON_MALFORMED},
      {7, v1::REJECT_REASON_MALFORMED},
  };
  std::map<int64_t, v1::RejectReason> got;
  for (const tools::LocatedRejection& r : result.AllRejections()) {
    got[r.line] = r.reason;
    EXPECT_FALSE(r.message.empty()) << "line " << r.line;
  }
  EXPECT_EQ(got, expected);

  v1::GetMetricsRequest request;
  request.set_model_id("credit");
  ASSERT_OK_AND_ASSIGN(v1::GetMetricsReply metrics,
                       client->GetMetrics(request));
  EXPECT_EQ(metrics.counters().predictions(), 2u);
  EXPECT_EQ(metrics.counters().outcomes(), 1u);
  EXPECT_EQ(metrics.counters().joined(), 1u);
  EXPECT_EQ(metrics.counters().rejected(), 4u);
  EXPECT_EQ(metrics.counters().rejected_by_reason().at("INVALID_SCORE"), 2u);
  EXPECT_EQ(metrics.counters().rejected_by_reason().at("MISSING_PREDICTION_ID"),
            1u);
  EXPECT_EQ(metrics.counters().rejected_by_reason().at("UNKNOWN_MODEL_VERSION"),
            1u);
}

}  // namespace
}  // namespace vigie
