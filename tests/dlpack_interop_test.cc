// FromDLPack / ToDLPack: memory is shared, never copied, and each side's deleter runs exactly
// once when the other side is done.
#include "runtime/dlpack_interop.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace ferry {
namespace {

// A producer's tensor over `data` that counts deleter calls.
struct FakeProducer {
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  std::vector<float> data;
  int deleted = 0;
  DLManagedTensor managed{};

  FakeProducer(std::vector<int64_t> s, std::vector<int64_t> st = {})
      : shape(std::move(s)), strides(std::move(st)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    data.resize(static_cast<size_t>(n));
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i);
    managed.dl_tensor.data = data.data();
    managed.dl_tensor.device = DLDevice{kDLCPU, 0};
    managed.dl_tensor.ndim = static_cast<int32_t>(shape.size());
    managed.dl_tensor.dtype = DLDataType{kDLFloat, 32, 1};
    managed.dl_tensor.shape = shape.data();
    managed.dl_tensor.strides = strides.empty() ? nullptr : strides.data();
    managed.manager_ctx = this;
    managed.deleter = [](DLManagedTensor* m) {
      static_cast<FakeProducer*>(m->manager_ctx)->deleted++;
    };
  }
};

TEST(DLPackInteropTest, FromDLPackSharesMemoryAndDeletesOnceWhenLastCopyGoes) {
  FakeProducer producer({2, 3});
  {
    NDArray a = FromDLPack(&producer.managed).value();
    EXPECT_EQ(a.data(), producer.data.data());
    EXPECT_EQ(a.shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.dtype(), DataType::Float32());
    NDArray copy = a;
    NDArray view = a.CreateView({6}, DataType::Float32()).value();
    a = NDArray();
    copy = NDArray();
    EXPECT_EQ(producer.deleted, 0);
    EXPECT_EQ(view.data_as<float>()[5], 5.0f);
  }
  EXPECT_EQ(producer.deleted, 1);
}

TEST(DLPackInteropTest, FromDLPackAppliesByteOffsetAndCopiesThroughTheDeviceApi) {
  FakeProducer producer({2});
  producer.managed.dl_tensor.byte_offset = sizeof(float) * 2;
  producer.data.resize(4);
  producer.data[2] = 7;
  producer.data[3] = 8;
  producer.managed.dl_tensor.data = producer.data.data();
  NDArray a = FromDLPack(&producer.managed).value();
  EXPECT_EQ(a.data(), producer.data.data() + 2);
  NDArray b = a.CopyTo(Device::Cpu()).value();
  EXPECT_EQ(b.data_as<float>()[0], 7.0f);
  EXPECT_EQ(b.data_as<float>()[1], 8.0f);
}

TEST(DLPackInteropTest, FromDLPackAcceptsCompactStridesAndIgnoresSizeOneDims) {
  FakeProducer compact({2, 3}, {3, 1});
  EXPECT_TRUE(FromDLPack(&compact.managed).ok());
  FakeProducer size_one({2, 1, 3}, {3, 99, 1});
  EXPECT_TRUE(FromDLPack(&size_one.managed).ok());
}

TEST(DLPackInteropTest, FromDLPackRefusesNonCompactStridesNamingThemAndKeepsOwnership) {
  FakeProducer transposed({3, 2}, {1, 3});
  StatusOr<NDArray> a = FromDLPack(&transposed.managed);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("strides [1, 3]"), std::string::npos) << a.status().message();
  EXPECT_EQ(transposed.deleted, 0);
}

TEST(DLPackInteropTest, FromDLPackRefusesNullAndBadShapes) {
  EXPECT_EQ(FromDLPack(nullptr).status().code(), StatusCode::kInvalidArgument);
  FakeProducer negative({2});
  negative.shape[0] = -1;
  EXPECT_EQ(FromDLPack(&negative.managed).status().code(), StatusCode::kInvalidArgument);
}

TEST(DLPackInteropTest, ToDLPackKeepsTheArrayAliveUntilTheDeleter) {
  NDArray a = NDArray::Empty({4}, DataType::Float32(), Device::Cpu()).value();
  a.data_as<float>()[3] = 42;
  DLManagedTensor* managed = ToDLPack(a).value();
  void* data = a.data();
  a = NDArray();  // the consumer's tensor still holds the data
  EXPECT_EQ(managed->dl_tensor.data, data);
  EXPECT_EQ(managed->dl_tensor.ndim, 1);
  EXPECT_EQ(managed->dl_tensor.shape[0], 4);
  EXPECT_EQ(managed->dl_tensor.strides, nullptr);
  EXPECT_EQ(static_cast<float*>(managed->dl_tensor.data)[3], 42.0f);
  managed->deleter(managed);
}

TEST(DLPackInteropTest, RoundTripSharesTheSameMemory) {
  NDArray a = NDArray::Empty({2, 2}, DataType::Float32(), Device::Cpu()).value();
  NDArray b = FromDLPack(ToDLPack(a).value()).value();
  EXPECT_EQ(a.data(), b.data());
}

TEST(DLPackInteropTest, ToDLPackRefusesRemoteArrays) {
  static float storage[1];
  NDArray remote =
      NDArray::Borrow(storage, {1}, DataType::Float32(), Device::Remote(Device::Cpu()));
  EXPECT_EQ(ToDLPack(remote).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry
