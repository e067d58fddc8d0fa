#include "bench/ingest/ingest_stream.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "vigie/v1/vigie.grpc.pb.h"

namespace vigie::bench {
namespace {

// Rejections kept from all connections together: enough to diagnose.
constexpr int kMaxKeptRejections = 20;

struct ConnectionResult {
  absl::Status status;
  v1::IngestReply reply;
  absl::Time finished;
};

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // gRPC shares one TCP connection between channels with the same target
  // and arguments; a local pool gives each channel its own, which is the
  // point of several connections.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// Waits for the completion of the operation tagged `tag` on `cq`; false if
// it failed (the stream broke) or the queue shut down.
bool Await(grpc::CompletionQueue& cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  return cq.Next(&got, &ok) && got == tag && ok;
}

// One connection's stream. Counts down `ready` once connected (or failed),
// then waits for `go`. The requests are serialized before `ready`, and sent
// as bytes through a generic stub: serializing them during the stream
// would time the client's protobuf encoding along with the server, on a
// machine whose cores the two share.
void RunConnection(const std::string& address,
                   const std::vector<v1::IngestRequest>& requests,
                   absl::Duration timeout, absl::BlockingCounter& ready,
                   const absl::Notification& go, std::atomic<uint64_t>& sent,
                   ConnectionResult& result) {
  std::vector<grpc::ByteBuffer> encoded(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    bool own = false;
    const grpc::Status serialized =
        grpc::SerializationTraits<v1::IngestRequest>::Serialize(
            requests[i], &encoded[i], &own);
    if (!serialized.ok()) {
      result.status = FromGrpc(serialized);
      ready.DecrementCount();
      go.WaitForNotification();
      result.finished = absl::Now();
      return;
    }
  }
  std::shared_ptr<grpc::Channel> channel = OpenChannel(address);
  const bool connected = channel->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  ready.DecrementCount();
  go.WaitForNotification();
  if (!connected) {
    result.status = absl::UnavailableError("could not connect to " + address);
    result.finished = absl::Now();
    return;
  }
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // Tags: the address of a local, one per kind of operation.
  int start_tag, write_tag, done_tag, read_tag, finish_tag;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, "/vigie.v1.Vigie/Ingest", &cq);
  call->StartCall(&start_tag);
  bool broken = !Await(cq, &start_tag);
  uint64_t mine = 0;
  for (size_t i = 0; i < encoded.size() && !broken; ++i) {
    call->Write(encoded[i], &write_tag);
    if (!Await(cq, &write_tag)) {
      broken = true;
      break;
    }
    const auto n = static_cast<uint64_t>(requests[i].events_size());
    mine += n;
    sent.fetch_add(n, std::memory_order_relaxed);
  }
  grpc::ByteBuffer reply;
  bool has_reply = false;
  if (!broken) {
    call->WritesDone(&done_tag);
    broken = !Await(cq, &done_tag);
  }
  if (!broken) {
    call->Read(&reply, &read_tag);
    has_reply = Await(cq, &read_tag);
  }
  // After a failure, Finish gives the reason.
  grpc::Status status;
  call->Finish(&status, &finish_tag);
  Await(cq, &finish_tag);
  cq.Shutdown();
  void* ignored_tag = nullptr;
  bool ignored_ok = false;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  result.finished = absl::Now();
  if (status.ok() && !broken && has_reply) {
    status = grpc::SerializationTraits<v1::IngestReply>::Deserialize(
        &reply, &result.reply);
    if (status.ok()) return;
  }
  const absl::Status error =
      status.ok() ? absl::UnavailableError("stream broke") : FromGrpc(status);
  result.status = absl::Status(
      error.code(),
      absl::StrCat("after ", mine, " events sent: ", error.message()));
}

void Accumulate(const v1::IngestReply& part, v1::IngestReply& total) {
  total.set_accepted(total.accepted() + part.accepted());
  total.set_rejected(total.rejected() + part.rejected());
  total.set_predictions(total.predictions() + part.predictions());
  total.set_outcomes(total.outcomes() + part.outcomes());
  total.set_joined(total.joined() + part.joined());
  for (const v1::Rejection& r : part.rejections()) {
    if (total.rejections_size() >= kMaxKeptRejections) break;
    *total.add_rejections() = r;
  }
}

}  // namespace

absl::StatusOr<StreamStats> StreamLoad(const std::string& address,
                                       const IngestLoad& load,
                                       const StreamLoadOptions& options) {
  const size_t n = load.connections.size();
  std::vector<ConnectionResult> results(n);
  std::atomic<uint64_t> sent{0};
  std::atomic<size_t> done{0};
  absl::BlockingCounter ready(static_cast<int>(n));
  absl::Notification go;
  std::vector<std::thread> threads;
  for (size_t c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      RunConnection(address, load.connections[c], options.timeout, ready, go,
                    sent, results[c]);
      done.fetch_add(1);
    });
  }
  // Connection set-up is not part of the timed ingest.
  ready.Wait();
  const absl::Time start = absl::Now();
  go.Notify();
  absl::Time last_progress = start;
  while (done.load() < n) {
    absl::SleepFor(absl::Milliseconds(20));
    const absl::Time now = absl::Now();
    if (options.on_progress &&
        now - last_progress >= options.progress_interval) {
      last_progress = now;
      options.on_progress(sent.load(std::memory_order_relaxed), now - start);
    }
  }
  for (std::thread& t : threads) t.join();

  StreamStats stats;
  stats.events_sent = sent.load();
  absl::Time end = start;
  for (size_t c = 0; c < n; ++c) {
    const ConnectionResult& r = results[c];
    if (!r.status.ok()) {
      return absl::Status(
          r.status.code(),
          absl::StrCat("connection ", c, " of ", n, ": ", r.status.message()));
    }
    Accumulate(r.reply, stats.reply);
    end = std::max(end, r.finished);
  }
  stats.elapsed = end - start;
  return stats;
}

}  // namespace vigie::bench
