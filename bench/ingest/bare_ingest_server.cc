// bare_ingest_server: the decode-only baseline of ingest_loadgen
// (bench/README.md, "Load generator"). It serves the Ingest RPC of
// vigie.v1.Vigie the way the real server receives it, and does nothing
// else: each request is parsed into an arena of its own, as the real
// server parses it, its events are counted, and the reply counts them all
// as accepted once the client closes its side. No validation, no log, no
// join, no monitor, no durability. Its rate is the most gRPC and protobuf
// allow on this machine, so that the real server's rate is read as a share
// of it. Every other method answers UNIMPLEMENTED.
//
// It takes the flags ingest_loadgen starts `vigie` with (ServerChild), so
// that both are started the same way; those it has no use for are accepted
// and ignored. SIGTERM or SIGINT stops it with status 0.

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "grpcpp/grpcpp.h"
#include "vigie/v1/vigie.grpc.pb.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:0",
          "host:port to serve on (port 0: any free port).");
ABSL_FLAG(std::string, port_file, "",
          "When set, the port bound is written to this file once serving.");
// Accepted so that ServerChild starts this program as it starts vigie.
ABSL_FLAG(std::string, data_dir, "", "Ignored: nothing is stored.");
ABSL_FLAG(std::string, http_address, "", "Ignored: no HTTP server.");
ABSL_FLAG(std::string, log_level, "", "Ignored: nothing is logged.");
ABSL_FLAG(std::string, config, "", "Ignored: nothing is configured.");

namespace vigie::bench {
namespace {

// The real server's limit (services/server.cc), so that the same requests
// fit.
constexpr int kMaxMessageBytes = 64 << 20;

// One Ingest call: reads requests one after the other, counts their events,
// and finishes once the client has closed its side. Callbacks come one at
// a time (a read is started only after the previous one is done), so the
// counts need no lock.
class CountingReactor final
    : public grpc::ServerReadReactor<v1::IngestRequest> {
 public:
  explicit CountingReactor(v1::IngestReply* reply) : reply_(reply) {
    StartRead(NewRequest());
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // The client closed its side, or the call ended.
      Finish(grpc::Status::OK);
      return;
    }
    for (const v1::Event& event : request_->events()) {
      if (event.has_prediction()) {
        reply_->set_predictions(reply_->predictions() + 1);
      } else if (event.has_outcome()) {
        reply_->set_outcomes(reply_->outcomes() + 1);
      }
    }
    reply_->set_accepted(reply_->accepted() +
                         static_cast<uint64_t>(request_->events_size()));
    StartRead(NewRequest());
  }

  void OnDone() override { delete this; }

 private:
  // A new arena per request, as the real server's reactor does
  // (services/grpc_service.cc): the same parse, the same allocations, freed
  // at once.
  v1::IngestRequest* NewRequest() {
    arena_ = std::make_unique<google::protobuf::Arena>();
    request_ =
        google::protobuf::Arena::CreateMessage<v1::IngestRequest>(arena_.get());
    return request_;
  }

  v1::IngestReply* const reply_;
  std::unique_ptr<google::protobuf::Arena> arena_;
  v1::IngestRequest* request_ = nullptr;
};

class BareService final : public v1::Vigie::CallbackService {
 public:
  grpc::ServerReadReactor<v1::IngestRequest>* Ingest(
      grpc::CallbackServerContext* /*context*/,
      v1::IngestReply* reply) override {
    return new CountingReactor(reply);
  }
};

int Run() {
  // Signals are taken by sigwait below; gRPC's threads, started after
  // this, inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  BareService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_grpc_address),
                           grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "bare_ingest_server: cannot listen on "
              << absl::GetFlag(FLAGS_grpc_address) << "\n";
    return 1;
  }
  if (const std::string path = absl::GetFlag(FLAGS_port_file); !path.empty()) {
    // Written under another name and renamed, so that readers never see
    // half a port (ServerChild polls the file).
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp) << port << "\n";
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::cerr << "bare_ingest_server: cannot write " << path << "\n";
      return 1;
    }
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace vigie::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return vigie::bench::Run();
}
