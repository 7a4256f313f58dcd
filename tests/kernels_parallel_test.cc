// The kernels that split their work over OpenMP threads (runtime/kernels/parallel_for.h):
// ParallelFor's partition, and every parallelized kernel's output on large inputs, which must
// be bit-identical with 1, 2 and 3 threads (3 splits rows unevenly), for element-wise,
// broadcast, unary, bias_add, batch_norm, softmax, layer_norm, pooling, reduce, concat and
// transpose, including the error path of a parallel integer division by zero.
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"
#include "tests/kernels_test_util.h"

namespace ferry::kernels {
namespace {

using internal::kParallelMinWork;
using internal::ParallelFor;
using test_util::Call;
using test_util::KernelFn;
using test_util::Output;
using test_util::Random;
using test_util::Shape;
using test_util::Tensor;
using test_util::TypedTensor;

// Sets the calling thread's OpenMP thread count for one scope.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ScopedOmpThreads() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

// The ranges ParallelFor ran, sorted, with the OpenMP thread numbers that ran them.
struct Ranges {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::set<int> threads;
};

Ranges RunParallelFor(int64_t n, int64_t work) {
  Ranges result;
  std::mutex mutex;
  ParallelFor(n, work, [&](int64_t begin, int64_t end) {
    std::lock_guard<std::mutex> lock(mutex);
    result.ranges.emplace_back(begin, end);
    result.threads.insert(omp_get_thread_num());
  });
  std::sort(result.ranges.begin(), result.ranges.end());
  return result;
}

// Whether `ranges` cover [0, n) exactly, in order, without empty ranges.
bool Covers(const Ranges& r, int64_t n) {
  int64_t next = 0;
  for (const auto& [begin, end] : r.ranges) {
    if (begin != next || end <= begin) return false;
    next = end;
  }
  return next == n;
}

TEST(ParallelForTest, SmallWorkRunsOnceOnTheCallingThread) {
  ScopedOmpThreads threads(4);
  const Ranges r = RunParallelFor(1000, kParallelMinWork - 1);
  ASSERT_EQ(r.ranges.size(), 1u);
  EXPECT_EQ(r.ranges[0], std::make_pair(int64_t{0}, int64_t{1000}));
  EXPECT_EQ(r.threads, std::set<int>{0});
}

TEST(ParallelForTest, OneThreadConfiguredRunsOnce) {
  ScopedOmpThreads threads(1);
  const Ranges r = RunParallelFor(1000, int64_t{1} << 30);
  ASSERT_EQ(r.ranges.size(), 1u);
  EXPECT_TRUE(Covers(r, 1000));
}

TEST(ParallelForTest, LargeWorkSplitsIntoOneRangePerThread) {
  for (int t : {2, 3, 4}) {
    ScopedOmpThreads threads(t);
    const Ranges r = RunParallelFor(1001, int64_t{1} << 30);
    EXPECT_EQ(r.ranges.size(), static_cast<size_t>(t)) << t << " threads";
    EXPECT_EQ(r.threads.size(), static_cast<size_t>(t)) << t << " threads";
    EXPECT_TRUE(Covers(r, 1001)) << t << " threads";
    for (const auto& [begin, end] : r.ranges) {
      EXPECT_LE(end - begin, 1001 / t + 1);  // balanced
    }
  }
}

TEST(ParallelForTest, ThreadsAreBoundedByRangesAndWork) {
  ScopedOmpThreads threads(8);
  // Fewer indices than threads: one index each.
  Ranges r = RunParallelFor(3, int64_t{1} << 30);
  EXPECT_EQ(r.ranges.size(), 3u);
  EXPECT_TRUE(Covers(r, 3));
  // Just over the threshold: two threads' worth of work, not eight.
  r = RunParallelFor(1000, kParallelMinWork);
  EXPECT_EQ(r.ranges.size(), 2u);
  EXPECT_TRUE(Covers(r, 1000));
  // Nothing to do: no call.
  r = RunParallelFor(0, int64_t{1} << 30);
  EXPECT_TRUE(r.ranges.empty());
}

TEST(ParallelForTest, NestedCallsStaySerial) {
  ScopedOmpThreads threads(2);
  std::atomic<int> inner_calls{0};
  ParallelFor(2, int64_t{1} << 30, [&](int64_t, int64_t) {
    ParallelFor(100, int64_t{1} << 30, [&](int64_t begin, int64_t end) {
      EXPECT_EQ(begin, 0);
      EXPECT_EQ(end, 100);
      ++inner_calls;
    });
  });
  EXPECT_EQ(inner_calls.load(), 2);
}

// What one kernel call produced: its return code, message and output bytes.
struct Result {
  int rc = 0;
  std::string message;
  std::vector<unsigned char> bytes;
};

// Runs `run` with 1, 2 and 3 OpenMP threads and expects the same result each time.
void ExpectSameForAllThreadCounts(const std::function<Result()>& run, int expected_rc = 0) {
  Result serial;
  {
    ScopedOmpThreads threads(1);
    serial = run();
  }
  ASSERT_EQ(serial.rc, expected_rc) << serial.message;
  for (int t : {2, 3}) {
    ScopedOmpThreads threads(t);
    const Result parallel = run();
    EXPECT_EQ(parallel.rc, serial.rc) << t << " threads: " << parallel.message;
    EXPECT_EQ(parallel.message, serial.message) << t << " threads";
    ASSERT_EQ(parallel.bytes.size(), serial.bytes.size());
    // Compared as vectors: memcmp may not be given the null data of empty ones.
    EXPECT_TRUE(parallel.bytes == serial.bytes)
        << t << " threads: the output differs from one thread's";
  }
}

template <typename T>
std::vector<unsigned char> BytesOf(const std::vector<T>& data) {
  std::vector<unsigned char> bytes(data.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), data.data(), bytes.size());
  return bytes;
}

// Runs `fn` on `inputs` into a fresh output of `out_shape` (float32).
Result RunFloat(const KernelFn& fn, std::vector<Tensor*> inputs, const Shape& out_shape) {
  Tensor out = Output(out_shape);
  std::vector<DLTensor*> args;
  for (Tensor* t : inputs) args.push_back(t->dl());
  args.push_back(out.dl());
  Result r;
  r.rc = Call(fn, args, &r.message);
  r.bytes = BytesOf(out.data);
  return r;
}

// A float32 kernel on fixed random inputs, compared across thread counts.
void ExpectFloatKernelSame(const KernelFn& fn, std::vector<Tensor> inputs, const Shape& out_shape) {
  ExpectSameForAllThreadCounts([&] {
    std::vector<Tensor*> pointers;
    for (Tensor& t : inputs) pointers.push_back(&t);
    return RunFloat(fn, pointers, out_shape);
  });
}

const Shape kImage = {2, 16, 64, 64};  // 131072 elements: past the parallel threshold

TEST(KernelsParallelTest, UnaryKernels) {
  ExpectFloatKernelSame(Relu, {Random(kImage)}, kImage);
  ExpectFloatKernelSame(Sigmoid, {Random(kImage)}, kImage);
  ExpectFloatKernelSame(Tanh, {Random(kImage)}, kImage);
  ExpectFloatKernelSame(
      [](DLTensor* const* a, int32_t n, FerryKernelError* e) { return Clip({-0.5, 0.5}, a, n, e); },
      {Random(kImage)}, kImage);
  for (UnaryOp op : {UnaryOp::kExp, UnaryOp::kErf, UnaryOp::kLog, UnaryOp::kHardSwish,
                     UnaryOp::kReciprocal}) {
    SCOPED_TRACE(static_cast<int>(op));
    ExpectFloatKernelSame(
        [op](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return Unary(UnaryAttrs{op, 0.1, 0.2}, a, n, e);
        },
        {Random(kImage, 0.01f, 4.0f)}, kImage);
  }
}

TEST(KernelsParallelTest, BinaryKernelsContiguousAndBroadcast) {
  for (const KernelFn& fn : std::vector<KernelFn>{Add, Sub, Mul, Div, Pow}) {
    ExpectFloatKernelSame(fn, {Random(kImage, 0.5f, 2.0f), Random(kImage, 0.5f, 2.0f)}, kImage);
    // b broadcasts over N and W; a over nothing.
    ExpectFloatKernelSame(fn, {Random(kImage, 0.5f, 2.0f), Random({16, 64, 1}, 0.5f, 2.0f)},
                          kImage);
    // Both broadcast: [2, 1, 64, 64] with [16, 64, 1].
    ExpectFloatKernelSame(fn, {Random({2, 1, 64, 64}), Random({16, 64, 1})}, kImage);
    // Rows of one element (the last dimension broadcasts to 1).
    ExpectFloatKernelSame(fn, {Random({65536, 2, 1}), Random({1, 2, 1})}, {65536, 2, 1});
  }
}

TEST(KernelsParallelTest, IntegerDivisionByZeroFailsWithAnyThreadCount) {
  const Shape shape = {4, 65536};
  TypedTensor<int32_t> a(shape, DLDataType{kDLInt, 32, 1}), b(shape, DLDataType{kDLInt, 32, 1});
  for (size_t i = 0; i < a.data.size(); ++i) {
    a.data[i] = static_cast<int32_t>(i * 7919 % 100003) - 50000;
    b.data[i] = static_cast<int32_t>(i % 97) - 48;
  }
  auto run = [&](TypedTensor<int32_t>& divisor) {
    TypedTensor<int32_t> out(shape, DLDataType{kDLInt, 32, 1});
    Result r;
    r.rc = Call(Div, {a.dl(), divisor.dl(), out.dl()}, &r.message);
    if (r.rc == 0) r.bytes = BytesOf(out.data);
    return r;
  };
  // One zero divisor, in the last thread's range.
  b.data.back() = 0;
  ExpectSameForAllThreadCounts([&] { return run(b); }, -1);
  {
    ScopedOmpThreads threads(2);
    EXPECT_NE(run(b).message.find("integer division by zero"), std::string::npos);
  }
  // No zero: every thread count gives the same quotients.
  for (int32_t& v : b.data) v = v == 0 ? 3 : v;
  ExpectSameForAllThreadCounts([&] { return run(b); });
}

TEST(KernelsParallelTest, BiasAddAndBatchNorm) {
  for (int64_t axis : {1, 3}) {
    SCOPED_TRACE(axis);
    const int64_t channels = kImage[axis];
    ExpectFloatKernelSame(
        [axis](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return BiasAdd(BiasAddAttrs{axis}, a, n, e);
        },
        {Random(kImage), Random({channels})}, kImage);
    ExpectFloatKernelSame(
        [axis](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return BatchNorm(BatchNormAttrs{axis, 1e-3}, a, n, e);
        },
        {Random(kImage), Random({channels}), Random({channels}), Random({channels}),
         Random({channels}, 0.1f, 2.0f)},
        kImage);
  }
}

TEST(KernelsParallelTest, SoftmaxAndLayerNorm) {
  for (int64_t axis : {-1, 1, 0}) {
    SCOPED_TRACE(axis);
    ExpectFloatKernelSame(
        [axis](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return Softmax(SoftmaxAttrs{axis}, a, n, e);
        },
        {Random(kImage, -4.0f, 4.0f)}, kImage);
    ExpectFloatKernelSame(
        [axis](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return LogSoftmax(SoftmaxAttrs{axis}, a, n, e);
        },
        {Random(kImage, -4.0f, 4.0f)}, kImage);
  }
  for (int64_t axis : {-1, 2}) {
    SCOPED_TRACE(axis);
    const Shape normalised(kImage.begin() + (axis < 0 ? 3 : axis), kImage.end());
    ExpectFloatKernelSame(
        [axis](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return LayerNorm(LayerNormAttrs{axis, 1e-5}, a, n, e);
        },
        {Random(kImage), Random(normalised), Random(normalised)}, kImage);
  }
}

TEST(KernelsParallelTest, Pooling) {
  const Shape data = {2, 16, 65, 63};
  using test_util::MakePool;
  struct Case {
    Pool2dAttrs attrs;
    Shape out;
  };
  const Case cases[] = {
      {MakePool(3, 3, 2, 2, {1, 1, 1, 1}, false, false), {2, 16, 33, 32}},
      {MakePool(3, 3, 2, 2, {1, 1, 1, 1}, true, true), {2, 16, 33, 32}},
      {MakePool(2, 2, 1, 1, {0, 0, 0, 0}, false, false), {2, 16, 64, 62}},
      {MakePool(3, 2, 1, 2, {2, 0, 1, 1}, false, true, 2, 1), {2, 16, 64, 32}},
  };
  for (const Case& c : cases) {
    const Pool2dAttrs attrs = c.attrs;
    ExpectFloatKernelSame(
        [attrs](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return MaxPool2d(attrs, a, n, e);
        },
        {Random(data)}, c.out);
    ExpectFloatKernelSame(
        [attrs](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return AvgPool2d(attrs, a, n, e);
        },
        {Random(data)}, c.out);
  }
  ExpectFloatKernelSame(GlobalAvgPool2d, {Random(kImage)}, {2, 16, 1, 1});
  ExpectFloatKernelSame(GlobalMaxPool2d, {Random(kImage)}, {2, 16, 1, 1});
}

TEST(KernelsParallelTest, Reductions) {
  struct Case {
    std::vector<int64_t> reduce;
    Shape out;
  };
  const Case cases[] = {
      {{0, 0, 1, 1}, {2, 16}},        // global pooling shape: slices over N and C
      {{0, 1, 0, 0}, {2, 64, 64}},    // a middle axis: slices over N
      {{0, 0, 0, 1}, {2, 16, 64}},    // the last axis: rows summed first
      {{1, 0, 0, 0}, {16, 64, 64}},   // the leading axis: one slice (serial)
      {{1, 1, 1, 1}, {1}},            // everything
      {{0, 0, 0, 0}, {2, 16, 64, 64}},  // nothing
  };
  for (const Case& c : cases) {
    ReduceAttrs attrs;
    attrs.ndim = 4;
    for (int d = 0; d < 4; ++d) attrs.reduce[d] = c.reduce[d];
    SCOPED_TRACE(::testing::PrintToString(c.reduce));
    ExpectFloatKernelSame(
        [attrs](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return ReduceSum(attrs, a, n, e);
        },
        {Random(kImage)}, c.out);
    ExpectFloatKernelSame(
        [attrs](DLTensor* const* a, int32_t n, FerryKernelError* e) {
          return ReduceMean(attrs, a, n, e);
        },
        {Random(kImage)}, c.out);
  }
  // A reduced leading axis of size 1 still splits: [1, 256, 512] over axes 0 and 2.
  ReduceAttrs attrs;
  attrs.ndim = 3;
  attrs.reduce[0] = 1;
  attrs.reduce[2] = 1;
  ExpectFloatKernelSame(
      [attrs](DLTensor* const* a, int32_t n, FerryKernelError* e) {
        return ReduceSum(attrs, a, n, e);
      },
      {Random({1, 256, 512})}, {256});
}

TEST(KernelsParallelTest, ConcatAndTranspose) {
  for (int64_t axis : {0, 1, 3}) {
    SCOPED_TRACE(axis);
    Shape a = kImage, b = kImage, empty = kImage, out = kImage;
    b[axis] = 3;
    empty[axis] = 0;
    out[axis] = kImage[axis] + 3;
    ExpectFloatKernelSame(
        [axis](DLTensor* const* args, int32_t n, FerryKernelError* e) {
          return Concat(ConcatAttrs{axis}, args, n, e);
        },
        {Random(a), Tensor(empty), Random(b)}, out);
  }
  TransposeAttrs attrs;
  attrs.ndim = 4;
  const int64_t axes[4] = {0, 2, 3, 1};
  for (int d = 0; d < 4; ++d) attrs.axes[d] = axes[d];
  ExpectFloatKernelSame(
      [attrs](DLTensor* const* a, int32_t n, FerryKernelError* e) {
        return Transpose(attrs, a, n, e);
      },
      {Random(kImage)}, {2, 64, 64, 16});
  // One-byte and three-byte elements take the other copy paths.
  for (const DLDataType dtype : {DLDataType{kDLUInt, 8, 1}, DLDataType{kDLUInt, 8, 3}}) {
    SCOPED_TRACE(static_cast<int>(dtype.lanes));
    TypedTensor<uint8_t> in(kImage, dtype, dtype.lanes);
    for (size_t i = 0; i < in.data.size(); ++i) in.data[i] = static_cast<uint8_t>(i * 31 + i / 7);
    ExpectSameForAllThreadCounts([&] {
      TypedTensor<uint8_t> out({2, 64, 64, 16}, dtype, dtype.lanes);
      Result r;
      r.rc = Call([attrs](DLTensor* const* a, int32_t n,
                          FerryKernelError* e) { return Transpose(attrs, a, n, e); },
                  {in.dl(), out.dl()}, &r.message);
      r.bytes = BytesOf(out.data);
      return r;
    });
  }
}

}  // namespace
}  // namespace ferry::kernels
