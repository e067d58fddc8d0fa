// The standard gRPC protocols the real server speaks besides its own API,
// spoken as grpc_health_probe and grpcurl do, with messages encoded and
// decoded here from the protocols' field numbers (grpc.health.v1 and
// grpc.reflection.v1alpha), independently of gRPC's implementation.

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace vigie {
namespace {

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

// The fields of an encoded message, in order.
std::unique_ptr<google::protobuf::UnknownFieldSet> Fields(
    const std::string& bytes) {
  auto fields = std::make_unique<google::protobuf::UnknownFieldSet>();
  EXPECT_TRUE(fields->ParseFromString(bytes));
  return fields;
}

class GrpcProtocolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<services::ServerConfig> config =
        services::DefaultServerConfig();
    ASSERT_OK(config.status());
    config->data_dir = dir_.Join("state");
    ASSERT_OK(server_.Start(*config, &clock_));
    channel_ = grpc::CreateChannel(server_.server().address(),
                                   grpc::InsecureChannelCredentials());
  }

  // One request and one reply on the bidirectional reflection stream.
  std::string Reflect(const std::string& request) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    grpc::CompletionQueue queue;
    auto await = [&queue] {
      void* tag = nullptr;
      bool ok = false;
      EXPECT_TRUE(queue.Next(&tag, &ok));
      return ok;
    };
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
        stub.PrepareCall(
            &context,
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            &queue);
    call->StartCall(nullptr);
    EXPECT_TRUE(await());
    call->Write(Buffer(request), nullptr);
    EXPECT_TRUE(await());
    grpc::ByteBuffer reply;
    call->Read(&reply, nullptr);
    EXPECT_TRUE(await());
    call->WritesDone(nullptr);
    EXPECT_TRUE(await());
    grpc::Status status;
    call->Finish(&status, nullptr);
    EXPECT_TRUE(await());
    EXPECT_TRUE(status.ok()) << status.error_message();
    return Bytes(reply);
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
  testutil::LoopbackServer server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GrpcProtocolsTest, HealthCheckSaysServing) {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  // HealthCheckRequest{service: ""}: no field set.
  const grpc::ByteBuffer request = Buffer("");
  grpc::ByteBuffer reply;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &reply, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  ASSERT_TRUE(status.ok()) << status.error_message();
  // HealthCheckResponse{status: SERVING (1)}.
  const auto fields = Fields(Bytes(reply));
  ASSERT_EQ(fields->field_count(), 1);
  EXPECT_EQ(fields->field(0).number(), 1);
  EXPECT_EQ(fields->field(0).varint(), 1u);
}

TEST_F(GrpcProtocolsTest, ReflectionListsAndDescribesTheApi) {
  // ServerReflectionRequest{list_services (7): ""}.
  const std::string list = std::string("\x3a\x00", 2);
  const auto reply = Fields(Reflect(list));
  std::vector<std::string> services;
  for (int i = 0; i < reply->field_count(); ++i) {
    if (reply->field(i).number() != 6) continue;  // list_services_response
    const auto listed = Fields(reply->field(i).length_delimited());
    for (int j = 0; j < listed->field_count(); ++j) {
      // ServiceResponse{name (1)}.
      services.push_back(Fields(listed->field(j).length_delimited())
                             ->field(0)
                             .length_delimited());
    }
  }
  EXPECT_THAT(services, ::testing::Contains("vigie.v1.Vigie"));

  // ServerReflectionRequest{file_containing_symbol (4): "vigie.v1.Vigie"}:
  // the file that defines it, with its methods, as grpcurl reads it.
  const std::string symbol = "vigie.v1.Vigie";
  const std::string describe =
      std::string("\x22") + static_cast<char>(symbol.size()) + symbol;
  const auto described = Fields(Reflect(describe));
  google::protobuf::FileDescriptorProto file;
  bool found = false;
  for (int i = 0; i < described->field_count(); ++i) {
    // file_descriptor_response
    if (described->field(i).number() != 4) continue;
    const auto files = Fields(described->field(i).length_delimited());
    for (int j = 0; j < files->field_count(); ++j) {
      google::protobuf::FileDescriptorProto candidate;
      ASSERT_TRUE(
          candidate.ParseFromString(files->field(j).length_delimited()));
      for (const auto& service : candidate.service()) {
        if (service.name() == "Vigie") {
          file = candidate;
          found = true;
        }
      }
    }
  }
  ASSERT_TRUE(found);
  EXPECT_EQ(file.package(), "vigie.v1");
  std::vector<std::string> methods;
  for (const auto& service : file.service()) {
    for (const auto& method : service.method())
      methods.push_back(method.name());
  }
  EXPECT_THAT(methods, ::testing::IsSupersetOf({"GetMetrics", "ListAlerts"}));
}

}  // namespace
}  // namespace vigie
