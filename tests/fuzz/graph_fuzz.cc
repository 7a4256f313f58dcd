// Fuzz target: the executor graph's binary form (ExecGraph::Deserialize, runtime/graph.h), as
// the manifest of a model library carries it.
// Properties: never crashes; errors are kInvalidArgument; a graph that deserialises is valid,
// and serialises and deserialises again to the same bytes.
#include "runtime/graph.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  BinaryReader reader(fuzz::AsView(data, size));
  StatusOr<ExecGraph> graph = ExecGraph::Deserialize(reader);
  if (!graph.ok()) {
    if (graph.status().code() != StatusCode::kInvalidArgument) {
      fuzz::Fail("unexpected graph error", graph.status().ToString());
    }
    return 0;
  }
  if (!graph->Validate().ok()) fuzz::Fail("a deserialised graph is invalid");
  BinaryWriter writer;
  graph->Serialize(writer);
  const std::string first = writer.Release();
  BinaryReader again(first);
  StatusOr<ExecGraph> back = ExecGraph::Deserialize(again);
  if (!back.ok())
    fuzz::Fail("a re-serialised graph does not deserialise", back.status().ToString());
  BinaryWriter writer2;
  back->Serialize(writer2);
  if (writer2.Release() != first) fuzz::Fail("graph round trip changed the bytes");
  return 0;
}
