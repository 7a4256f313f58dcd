// SoakWorkload: what one soak session does on its agent and the answers it must get back.
//
// Two small model libraries are exported once (zoo "mlp" with the graph executor, zoo "cnn"
// with the AOT executor) and run locally on a few fixed inputs for the expected outputs.
// Session k then, on its remote session: uploads library k % 2 (the agent's cache has it
// after the first time: one round trip), uploads a blob unique to the session (a real
// transfer every time), loads the library, creates the model through its factory on the
// remote CPU, sets input k % kInputs, runs, reads output 0 and compares it bit for bit with
// the local run. Read-only after Build: sessions on many threads share one workload.
#ifndef FERRY_BENCH_SOAK_SOAK_WORKLOAD_H_
#define FERRY_BENCH_SOAK_SOAK_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rpc/client_session.h"
#include "runtime/ndarray.h"
#include "runtime/status.h"

namespace ferry::soak {

class SoakWorkload {
 public:
  static constexpr int kInputs = 4;

  // Exports the libraries into `dir` and computes the expected outputs. Errors: the
  // exporter's (no C++ compiler, ...) and the local runtime's.
  static StatusOr<SoakWorkload> Build(const std::string& dir);

  // Session `k`'s work (see above) with a unique blob of `blob_bytes` bytes (0: none).
  // Errors name the step that failed; a wrong output is kInternal with the largest difference.
  Status RunSession(rpc::RemoteSession& remote, int64_t k, size_t blob_bytes) const;

  // Bytes of the libraries, for the report.
  std::vector<std::pair<std::string, uint64_t>> LibrarySizes() const;

 private:
  struct Library {
    std::string label;  // upload label, "mlp_graph.so"
    std::string path;   // local file
    std::string key;    // model key in the library
    std::vector<NDArray> inputs, expected;
  };
  std::vector<Library> libraries_;
};

}  // namespace ferry::soak

#endif  // FERRY_BENCH_SOAK_SOAK_WORKLOAD_H_
