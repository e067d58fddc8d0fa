// TLS, mutual TLS and the bearer token of the real server, with a
// certificate authority, server and client certificates made by the test
// with openssl, and clients that are gRPC's and cpp-httplib's own.

#include <httplib.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/config.h"
#include "tests/testutil/loopback_server.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vector_source.h"
#include "tools/client.h"
#include "vigie/v1/vigie.grpc.pb.h"

namespace vigie {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A CA, a server certificate for localhost and 127.0.0.1, and a client
    // certificate, all signed by the CA.
    const std::string d = dir_.path();
    const std::string script = absl::StrCat(
        "set -e; cd ", d,
        "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out "
        "ca.pem -days 2 -subj '/CN=Vigie test CA' 2>/dev/null"
        "; openssl req -newkey rsa:2048 -nodes -keyout server.key -out "
        "server.csr -subj '/CN=localhost' 2>/dev/null"
        "; printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext"
        "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null"
        "; openssl req -newkey rsa:2048 -nodes -keyout client.key -out "
        "client.csr -subj '/CN=a client' 2>/dev/null"
        "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -out client.pem -days 2 2>/dev/null"
        "; printf ' s3cret-token \\n' > token");
    ASSERT_EQ(system(script.c_str()), 0) << "openssl failed";
  }

  services::ServerConfig Config(bool mutual) {
    absl::StatusOr<services::ServerConfig> config =
        services::DefaultServerConfig();
    EXPECT_TRUE(config.ok()) << config.status();
    config->data_dir = dir_.Join("state");
    config->tls.cert_file = dir_.Join("server.pem");
    config->tls.key_file = dir_.Join("server.key");
    if (mutual) config->tls.client_ca_file = dir_.Join("ca.pem");
    config->bearer_token_file = dir_.Join("token");
    return *config;
  }

  // A stub over TLS to the server, trusting the test's CA, presenting the
  // client certificate when `with_certificate`.
  std::unique_ptr<v1::Vigie::Stub> Stub(testutil::LoopbackServer& server,
                                        bool with_certificate) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Read(dir_.Join("ca.pem"));
    if (with_certificate) {
      options.pem_private_key = Read(dir_.Join("client.key"));
      options.pem_cert_chain = Read(dir_.Join("client.pem"));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return v1::Vigie::NewStub(grpc::CreateCustomChannel(
        server.server().address(), grpc::SslCredentials(options), args));
  }

  static grpc::StatusCode Query(v1::Vigie::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    v1::GetMetricsRequest request;
    request.set_model_id("nobody");
    v1::GetMetricsReply reply;
    return stub.GetMetrics(&context, request, &reply).error_code();
  }

  static grpc::StatusCode Ingest(v1::Vigie::Stub& stub,
                                 const std::string& authorization) {
    grpc::ClientContext context;
    if (!authorization.empty()) {
      context.AddMetadata("authorization", authorization);
    }
    v1::IngestRequest request;  // Empty: nothing to reject, nothing kept.
    v1::IngestReply reply;
    return stub.IngestBatch(&context, request, &reply).error_code();
  }

  testutil::TempDir dir_;
  common::FakeClock clock_;
};

TEST_F(TlsE2eTest, TlsAndTheBearerTokenGuardGrpcAndHttp) {
  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(Config(/*mutual=*/false), &clock_));
  std::unique_ptr<v1::Vigie::Stub> stub = Stub(server, false);
  // A query needs no token: its answer (no such model) came over TLS.
  EXPECT_EQ(Query(*stub), grpc::StatusCode::NOT_FOUND);
  // A plaintext client does not get through.
  std::unique_ptr<v1::Vigie::Stub> plain =
      v1::Vigie::NewStub(grpc::CreateChannel(
          server.server().address(), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(Query(*plain), grpc::StatusCode::UNAVAILABLE);

  // Ingest needs the token from the file (its whitespace trimmed).
  EXPECT_EQ(Ingest(*stub, ""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Ingest(*stub, "Bearer wrong"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Ingest(*stub, "Bearer s3cret-token"), grpc::StatusCode::OK);
  // So does the streaming ingest.
  {
    grpc::ClientContext context;
    v1::IngestReply reply;
    auto writer = stub->Ingest(&context, &reply);
    writer->WritesDone();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }

  // vigiectl's client, over TLS with the token: a stream is accepted;
  // without the token, refused.
  tools::VigieClient::ConnectOptions options;
  options.tls_ca_file = dir_.Join("ca.pem");
  options.tls_server_name = "localhost";
  ASSERT_OK_AND_ASSIGN(auto anonymous, tools::VigieClient::Connect(
                                           server.server().address(), options));
  options.token = "s3cret-token";
  ASSERT_OK_AND_ASSIGN(auto client, tools::VigieClient::Connect(
                                        server.server().address(), options));
  v1::Event event;
  v1::Prediction& prediction = *event.mutable_prediction();
  prediction.set_model_id("demo");
  prediction.set_prediction_id("p1");
  prediction.mutable_event_time()->set_seconds(1'767'607'200);
  prediction.mutable_binary()->set_score(0.7);
  (*prediction.mutable_groups())["sex"] = "female";
  testutil::VectorSource refused({event});
  EXPECT_EQ(anonymous->StreamEvents(refused, {}).status().code(),
            absl::StatusCode::kUnauthenticated);
  testutil::VectorSource accepted({event});
  ASSERT_OK_AND_ASSIGN(tools::StreamResult result,
                       client->StreamEvents(accepted, {}));
  EXPECT_EQ(result.reply.accepted(), 1u);

  // HTTPS, verified against the test's CA.
  const std::string http = server.server().http_address();
  httplib::SSLClient https("localhost",
                           std::stoi(http.substr(http.rfind(':') + 1)));
  https.set_ca_cert_path(dir_.Join("ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  httplib::Result healthz = https.Get("/healthz");
  ASSERT_TRUE(healthz) << httplib::to_string(healthz.error());
  EXPECT_EQ(healthz->status, 200);
}

TEST_F(TlsE2eTest, MutualTlsRefusesAClientWithoutCertificate) {
  testutil::LoopbackServer server;
  ASSERT_OK(server.Start(Config(/*mutual=*/true), &clock_));
  EXPECT_EQ(Query(*Stub(server, /*with_certificate=*/true)),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Query(*Stub(server, /*with_certificate=*/false)),
            grpc::StatusCode::UNAVAILABLE);

  const std::string http = server.server().http_address();
  const int port = std::stoi(http.substr(http.rfind(':') + 1));
  httplib::SSLClient with("localhost", port, dir_.Join("client.pem"),
                          dir_.Join("client.key"));
  with.set_ca_cert_path(dir_.Join("ca.pem").c_str());
  httplib::Result ok = with.Get("/healthz");
  ASSERT_TRUE(ok) << httplib::to_string(ok.error());
  EXPECT_EQ(ok->status, 200);
  httplib::SSLClient without("localhost", port);
  without.set_ca_cert_path(dir_.Join("ca.pem").c_str());
  EXPECT_FALSE(without.Get("/healthz"));
}

TEST_F(TlsE2eTest, BadTlsSettingsStopTheStartWithTheirReason) {
  services::ServerConfig config = Config(false);
  config.tls.key_file = dir_.Join("missing.key");
  testutil::LoopbackServer server;
  const absl::Status status = server.Start(config, &clock_);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("missing.key"), std::string::npos) << status;
}

}  // namespace
}  // namespace vigie
