// The real server on a loopback port with a temporary data folder, driven
// through the real gRPC API by the real client library.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "services/server.h"
#include "tests/testutil/proto_bytes.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vector_source.h"
#include "tools/client.h"
#include "tools/simulator.h"
#include "vigie/v1/vigie.grpc.pb.h"

namespace vigie {
namespace {

class ServerE2eTest : public ::testing::Test {
 protected:
  void Start() {
    ASSERT_OK_AND_ASSIGN(services::ServerConfig config,
                         services::DefaultServerConfig());
    config.data_dir = dir_.Join("state");
    config.grpc_address = "127.0.0.1:0";
    config.http_address = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(server_,
                         services::VigieServer::Start(config, &clock_));
    ASSERT_OK_AND_ASSIGN(client_,
                         tools::VigieClient::Connect(server_->address()));
  }
  void Stop() {
    client_.reset();
    server_.reset();
  }

  v1::GetMetricsReply Metrics(const v1::GetMetricsRequest& request) {
    auto reply = client_->GetMetrics(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : v1::GetMetricsReply();
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  std::unique_ptr<services::VigieServer> server_;
  std::unique_ptr<tools::VigieClient> client_;
};

TEST_F(ServerE2eTest, StreamRestartAndReadTheSameWindowBack) {
  Start();
  tools::SimulatorOptions options;
  options.num_predictions = 6'000;
  ASSERT_OK_AND_ASSIGN(auto simulator, tools::Simulator::Create(options));
  ASSERT_OK_AND_ASSIGN(tools::StreamResult result,
                       client_->StreamEvents(*simulator, {}));
  EXPECT_EQ(result.reply.accepted(), 12'000u);
  EXPECT_EQ(result.reply.rejected(), 0u);
  EXPECT_EQ(result.reply.joined(), 6'000u);

  // A window of whole panes in the middle of the stream: 5 s spacing puts
  // 720 predictions in each 1 h pane.
  v1::GetMetricsRequest request;
  request.set_model_id("demo");
  request.mutable_window()->mutable_start()->set_seconds(
      absl::ToUnixSeconds(options.start + absl::Hours(1)));
  request.mutable_window()->mutable_end()->set_seconds(
      absl::ToUnixSeconds(options.start + absl::Hours(4)));
  const v1::GetMetricsReply before = Metrics(request);
  EXPECT_EQ(before.panes(), 3u);
  uint64_t predictions = 0;
  for (const auto& attribute : before.fairness()) {
    if (attribute.attribute() != "sex") continue;
    for (const auto& group : attribute.groups()) {
      predictions += group.predictions();
    }
  }
  EXPECT_EQ(predictions, 3u * 720u);
  ASSERT_OK_AND_ASSIGN(auto alerts_before, client_->ListAlerts({}));

  Stop();
  Start();
  const v1::GetMetricsReply after = Metrics(request);
  EXPECT_EQ(testutil::DeterministicBytes(after),
            testutil::DeterministicBytes(before));
  ASSERT_OK_AND_ASSIGN(auto alerts_after, client_->ListAlerts({}));
  EXPECT_EQ(testutil::DeterministicBytes(alerts_after),
            testutil::DeterministicBytes(alerts_before));
}

TEST_F(ServerE2eTest, UnknownModelIsNotFound) {
  Start();
  v1::GetMetricsRequest request;
  request.set_model_id("nobody");
  const auto reply = client_->GetMetrics(request);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(reply.status().message().find("nobody"), absl::string_view::npos);
}

TEST_F(ServerE2eTest, SecondServerOnTheSameDataIsRefused) {
  Start();
  services::ServerConfig config = *services::DefaultServerConfig();
  config.data_dir = dir_.Join("state");
  config.grpc_address = "127.0.0.1:0";
  config.http_address = "127.0.0.1:0";
  const auto second = services::VigieServer::Start(config, &clock_);
  EXPECT_FALSE(second.ok());
}

// A request that does not parse ends its stream with INVALID_ARGUMENT
// naming it: the requests before it count, those after it do not (the
// server reads ahead of what it has parsed, and drops what it read).
TEST_F(ServerE2eTest, ARequestThatDoesNotParseEndsItsStream) {
  Start();
  const auto stub = v1::Vigie::NewStub(grpc::CreateChannel(
      server_->address(), grpc::InsecureChannelCredentials()));
  const auto predictions = [](int first) {
    v1::IngestRequest request;
    for (int i = first; i < first + 10; ++i) {
      v1::Prediction* p = request.add_events()->mutable_prediction();
      p->set_model_id("demo");
      p->set_prediction_id(absl::StrCat("p", i));
      p->mutable_event_time()->set_seconds(1'767'571'200 + i);
      p->mutable_binary()->set_score(0.3);
    }
    return request;
  };
  grpc::ClientContext context;
  v1::IngestReply reply;
  const auto writer = stub->Ingest(&context, &reply);
  ASSERT_TRUE(writer->Write(predictions(0)));
  v1::IngestRequest bad = predictions(10);
  // Not UTF-8: protobuf refuses to parse a proto3 string of it.
  bad.mutable_events(3)->mutable_prediction()->set_model_id("\xff");
  writer->Write(bad);
  for (int first = 20; first < 100; first += 10) {
    if (!writer->Write(predictions(first))) break;  // The call has ended.
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "request 2 of the stream is not a vigie.v1.IngestRequest");
  v1::GetMetricsRequest request;
  request.set_model_id("demo");
  EXPECT_EQ(Metrics(request).counters().predictions(), 10u);
  // The next stream is served as usual.
  grpc::ClientContext next_context;
  const auto next = stub->Ingest(&next_context, &reply);
  ASSERT_TRUE(next->Write(predictions(100)));
  next->WritesDone();
  ASSERT_TRUE(next->Finish().ok());
  EXPECT_EQ(reply.accepted(), 10u);
  EXPECT_EQ(Metrics(request).counters().predictions(), 20u);
}

}  // namespace
}  // namespace vigie
