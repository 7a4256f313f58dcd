// Unit tests of the runtime's value model: Status, Device, DataType, NDArray, Value,
// PackedFunc, Module and FunctionRegistry (the binary encoding: binary_io_test.cc).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "runtime/data_type.h"
#include "runtime/device.h"
#include "runtime/function_registry.h"
#include "runtime/module.h"
#include "runtime/ndarray.h"
#include "runtime/packed_func.h"
#include "runtime/status.h"
#include "runtime/value.h"

namespace ferry {
namespace {

// ---- Status / StatusOr ----

TEST(StatusTest, OkAndErrors) {
  Status ok = Status::Ok();
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), StatusCode::kOk);
  EXPECT_EQ(ok.ToString(), "OK");

  Status error = NotFoundError("no such thing");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.code(), StatusCode::kNotFound);
  EXPECT_EQ(error.message(), "no such thing");
  EXPECT_EQ(error.ToString(), "NOT_FOUND: no such thing");
  EXPECT_EQ(error, NotFoundError("no such thing"));
  EXPECT_FALSE(error == InternalError("no such thing"));
}

TEST(StatusTest, CodeNames) {
  EXPECT_EQ(StatusCodeName(StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_EQ(StatusCodeName(StatusCode::kUnavailable), "UNAVAILABLE");
  EXPECT_EQ(StatusCodeName(StatusCode::kResourceExhausted), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(StatusCode::kDeadlineExceeded), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(StatusCode::kUnimplemented), "UNIMPLEMENTED");
  EXPECT_EQ(StatusCodeName(StatusCode::kPermissionDenied), "PERMISSION_DENIED");
  EXPECT_EQ(StatusCodeName(StatusCode::kInternal), "INTERNAL");
  EXPECT_EQ(InvalidArgumentError("x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(UnavailableError("x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(ResourceExhaustedError("x").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(DeadlineExceededError("x").code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(UnimplementedError("x").code(), StatusCode::kUnimplemented);
  EXPECT_EQ(PermissionDeniedError("x").code(), StatusCode::kPermissionDenied);
}

TEST(StatusTest, WithContext) {
  Status s = InvalidArgumentError("bad shape").WithContext("input 'data'");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "input 'data': bad shape");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
  EXPECT_EQ(Status::Ok().WithContext("ignored").message(), "");
}

TEST(StatusOrTest, ValueAndError) {
  StatusOr<int> value = 42;
  ASSERT_TRUE(value.ok());
  EXPECT_TRUE(value.status().ok());
  EXPECT_EQ(*value, 42);
  EXPECT_EQ(value.value(), 42);

  StatusOr<int> error = NotFoundError("gone");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), StatusCode::kNotFound);
  try {
    (void)error.value();
    FAIL() << "value() of an error did not throw";
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status(), NotFoundError("gone"));
    EXPECT_STREQ(e.what(), "NOT_FOUND: gone");
  }
}

TEST(StatusOrTest, ConstructingFromOkStatusIsABug) {
  EXPECT_THROW(StatusOr<int>{Status::Ok()}, CheckError);
}

TEST(StatusOrTest, ConvertingConstructorAndMove) {
  StatusOr<std::string> s = "text";  // const char* -> std::string
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "text");
  EXPECT_EQ(s->size(), 4u);
  std::string moved = std::move(s).value();
  EXPECT_EQ(moved, "text");
}

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError(std::to_string(x) + " is odd");
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusOrTest, Macros) {
  EXPECT_EQ(*Quarter(8), 2);
  StatusOr<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "3 is odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).message(), "5 is odd");
}

// ---- Device ----

TEST(DeviceTest, PrintAndParse) {
  EXPECT_EQ(Device::Cpu().ToString(), "cpu(0)");
  EXPECT_EQ(Device::Cuda(1).ToString(), "cuda(1)");
  EXPECT_EQ(*ParseDevice("cpu"), Device::Cpu(0));
  EXPECT_EQ(*ParseDevice("cpu(0)"), Device::Cpu(0));
  EXPECT_EQ(*ParseDevice("cpu:2"), Device::Cpu(2));
  EXPECT_EQ(*ParseDevice("cuda(1)"), Device::Cuda(1));
  EXPECT_EQ(*ParseDevice("cuda:3"), Device::Cuda(3));
  EXPECT_EQ(*ParseDevice("gpu"), Device::Cuda(0));
  for (Device d : {Device::Cpu(0), Device::Cpu(5), Device::Cuda(0), Device::Cuda(7)}) {
    EXPECT_EQ(*ParseDevice(d.ToString()), d) << d.ToString();
  }
  EXPECT_EQ(DeviceTypeName(kDLCPU), "cpu");
  EXPECT_EQ(DeviceTypeName(kDLCUDA), "cuda");
  EXPECT_EQ(DeviceTypeName(kDLVulkan), "device_type_7");
  EXPECT_EQ(Device::FromDL(Device::Cuda(2).ToDL()), Device::Cuda(2));
}

// Found by the UBSan suite (scripts/test --sanitize address): a remote device's type (the
// mask plus a DLPack type, e.g. 129) was held in a DLDeviceType, whose range ends at 15: "load
// of value 129, which is not a valid value for type 'DLDeviceType'". Device holds an int, and
// DLPack's form exists only for local devices.
TEST(DeviceTest, RemoteDevicesAreOutsideDLPack) {
  const Device remote = Device::Remote(Device::Cuda(1));
  EXPECT_EQ(remote.type, kRemoteDeviceMask + kDLCUDA);
  EXPECT_TRUE(remote.is_remote());
  EXPECT_EQ(remote.Local(), Device::Cuda(1));
  EXPECT_EQ(remote.ToString(), "remote:cuda(1)");
  EXPECT_THROW((void)remote.ToDL(), CheckError);
  const DLDevice local = Device::Cuda(1).ToDL();
  EXPECT_EQ(local.device_type, kDLCUDA);
  EXPECT_EQ(Device::FromDL(local), Device::Cuda(1));
}

TEST(DeviceTest, ParseErrors) {
  for (const char* text :
       {"", "tpu", "cpu(", "cpu(1", "cpu()", "cpu(-1)", "cpu:x", "cpu:1x", "cuda(1)x", "cpu:"}) {
    StatusOr<Device> d = ParseDevice(text);
    EXPECT_FALSE(d.ok()) << text;
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << text;
    }
  }
}

// ---- DataType ----

TEST(DataTypeTest, PrintAndParse) {
  EXPECT_EQ(DataType::Float32().ToString(), "float32");
  EXPECT_EQ(DataType::Float16().ToString(), "float16");
  EXPECT_EQ(DataType::Int64().ToString(), "int64");
  EXPECT_EQ(DataType::UInt8().ToString(), "uint8");
  EXPECT_EQ(DataType::Bool().ToString(), "bool");
  EXPECT_EQ((DataType{kDLFloat, 32, 4}).ToString(), "float32x4");
  EXPECT_EQ((DataType{kDLBfloat, 16, 1}).ToString(), "bfloat16");
  for (DataType t : {DataType::Float32(), DataType::Float64(), DataType::Float16(),
                     DataType::Int8(), DataType::Int32(), DataType::Int64(), DataType::UInt8(),
                     DataType::Bool(), DataType{kDLUInt, 16, 1}, DataType{kDLFloat, 32, 4},
                     DataType{kDLBfloat, 16, 1}, DataType{kBoolTypeCode, 8, 2}}) {
    StatusOr<DataType> parsed = ParseDataType(t.ToString());
    ASSERT_TRUE(parsed.ok()) << t.ToString() << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, t) << t.ToString();
  }
  EXPECT_EQ(DataType::Float32().bytes(), 4u);
  EXPECT_EQ(DataType::Bool().bytes(), 1u);
  EXPECT_EQ((DataType{kDLFloat, 16, 4}).bytes(), 8u);
  EXPECT_EQ((DataType{kDLInt, 4, 1}).bytes(), 1u);
  EXPECT_EQ(DataType::FromDL(DataType::Int32().ToDL()), DataType::Int32());
}

TEST(DataTypeTest, ParseErrors) {
  for (const char* text : {"", "float", "float33", "int7", "complex64", "float32x", "float32x0",
                           "float32xx", "Float32", "int 32", "uint", "x4"}) {
    StatusOr<DataType> t = ParseDataType(text);
    EXPECT_FALSE(t.ok()) << text;
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << text;
      EXPECT_NE(t.status().message().find("unknown data type"), std::string::npos);
    }
  }
}

// ---- NDArray ----

std::vector<float> Iota(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(NDArrayTest, EmptyShapeAndAlignment) {
  StatusOr<NDArray> a = NDArray::Empty({2, 3, 4}, DataType::Float32(), Device::Cpu());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE(a->is_null());
  EXPECT_EQ(a->shape(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(a->ndim(), 3);
  EXPECT_EQ(a->NumElements(), 24);
  EXPECT_EQ(a->NumBytes(), 96u);
  EXPECT_EQ(a->dtype(), DataType::Float32());
  EXPECT_EQ(a->device(), Device::Cpu());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a->data()) % kAllocAlignment, 0u);
  EXPECT_EQ(a->ToString(), "float32[2, 3, 4] on cpu(0)");

  DLTensor* t = a->dl_tensor();
  EXPECT_EQ(t->ndim, 3);
  EXPECT_EQ(t->shape[2], 4);
  EXPECT_EQ(t->strides, nullptr);
  EXPECT_EQ(t->data, a->data());
  EXPECT_EQ(DataType::FromDL(t->dtype), DataType::Float32());

  // Several allocations of odd sizes are all aligned.
  for (int64_t n : {1, 3, 17, 1000}) {
    StatusOr<NDArray> b = NDArray::Empty({n}, DataType::Int8(), Device::Cpu());
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % kAllocAlignment, 0u) << n;
  }
}

TEST(NDArrayTest, ScalarAndZeroSize) {
  StatusOr<NDArray> scalar = NDArray::Empty({}, DataType::Float64(), Device::Cpu());
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->ndim(), 0);
  EXPECT_EQ(scalar->NumElements(), 1);
  EXPECT_EQ(scalar->NumBytes(), 8u);
  EXPECT_EQ(scalar->ToString(), "float64[] on cpu(0)");

  StatusOr<NDArray> zero = NDArray::Empty({3, 0}, DataType::Float32(), Device::Cpu());
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->NumElements(), 0);
  EXPECT_EQ(zero->NumBytes(), 0u);
  EXPECT_NE(zero->data(), nullptr);
  EXPECT_TRUE(zero->CopyFromBytes(nullptr, 0).ok());
}

TEST(NDArrayTest, EmptyErrors) {
  StatusOr<NDArray> negative = NDArray::Empty({2, -1}, DataType::Float32(), Device::Cpu());
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().code(), StatusCode::kInvalidArgument);

  StatusOr<NDArray> too_many =
      NDArray::Empty(std::vector<int64_t>(kMaxNdim + 1, 1), DataType::Float32(), Device::Cpu());
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kInvalidArgument);

  StatusOr<NDArray> overflow =
      NDArray::Empty({int64_t{1} << 40, int64_t{1} << 40}, DataType::Float32(), Device::Cpu());
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.status().code(), StatusCode::kInvalidArgument);

  StatusOr<NDArray> too_large =
      NDArray::Empty({int64_t{1} << 62}, DataType::Float64(), Device::Cpu());
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.status().code(), StatusCode::kInvalidArgument);

  StatusOr<NDArray> bad_dtype = NDArray::Empty({2}, DataType{kDLFloat, 32, 0}, Device::Cpu());
  ASSERT_FALSE(bad_dtype.ok());
  EXPECT_EQ(bad_dtype.status().code(), StatusCode::kInvalidArgument);
}

TEST(NDArrayTest, ShapeHelpers) {
  EXPECT_EQ(*ShapeNumElements(std::vector<int64_t>{}), 1);
  EXPECT_EQ(*ShapeNumElements(std::vector<int64_t>{2, 3, 4}), 24);
  EXPECT_EQ(*ShapeNumElements(std::vector<int64_t>{2, 0, INT64_MAX}), 0);
  EXPECT_FALSE(ShapeNumElements(std::vector<int64_t>{-1}).ok());
  EXPECT_FALSE(ShapeNumElements(std::vector<int64_t>{INT64_MAX, 2}).ok());
  EXPECT_EQ(ShapeToString(std::vector<int64_t>{1, 3, 224, 224}), "[1, 3, 224, 224]");
  EXPECT_EQ(ShapeToString(std::vector<int64_t>{}), "[]");
}

TEST(NDArrayTest, CopyFromBytesAndToBytes) {
  NDArray a = *NDArray::Empty({2, 3}, DataType::Float32(), Device::Cpu());
  std::vector<float> in = Iota(6);
  ASSERT_TRUE(a.CopyFromBytes(in.data(), in.size() * sizeof(float)).ok());
  EXPECT_EQ(a.data_as<float>()[5], 5.0f);
  std::vector<float> out(6, -1.0f);
  ASSERT_TRUE(a.CopyToBytes(out.data(), out.size() * sizeof(float)).ok());
  EXPECT_EQ(out, in);
}

TEST(NDArrayTest, CopyBytesSizeMismatch) {
  NDArray a = *NDArray::Empty({2, 3}, DataType::Float32(), Device::Cpu());
  std::vector<float> in(7);
  Status s = a.CopyFromBytes(in.data(), 20);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "expected 24 bytes for float32[2, 3] on cpu(0), got 20");
  s = a.CopyFromBytes(in.data(), 28);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = a.CopyToBytes(in.data(), 28);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "expected 24 bytes for float32[2, 3] on cpu(0), got 28");
}

TEST(NDArrayTest, CopyFromAndCopyTo) {
  NDArray a = *NDArray::Empty({2, 3}, DataType::Float32(), Device::Cpu());
  std::vector<float> in = Iota(6);
  ASSERT_TRUE(a.CopyFromBytes(in.data(), 24).ok());

  // Same element count, different shape: allowed.
  NDArray b = *NDArray::Empty({6}, DataType::Float32(), Device::Cpu());
  ASSERT_TRUE(b.CopyFrom(a).ok());
  EXPECT_EQ(std::memcmp(b.data(), in.data(), 24), 0);

  StatusOr<NDArray> c = a.CopyTo(Device::Cpu());
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(*c == a);
  EXPECT_NE(c->data(), a.data());
  EXPECT_EQ(c->shape(), a.shape());
  EXPECT_EQ(std::memcmp(c->data(), in.data(), 24), 0);

  // Copies of an NDArray share data.
  NDArray shared = a;
  EXPECT_TRUE(shared == a);
  shared.data_as<float>()[0] = 42.0f;
  EXPECT_EQ(a.data_as<float>()[0], 42.0f);
  EXPECT_EQ(c->data_as<float>()[0], 0.0f);

  NDArray wrong_type = *NDArray::Empty({2, 3}, DataType::Int32(), Device::Cpu());
  Status s = wrong_type.CopyFrom(a);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "cannot copy float32 x 6 into int32 x 6");
  NDArray wrong_count = *NDArray::Empty({5}, DataType::Float32(), Device::Cpu());
  EXPECT_EQ(wrong_count.CopyFrom(a).code(), StatusCode::kInvalidArgument);
}

TEST(NDArrayTest, CopyFromStridedDLTensor) {
  std::vector<float> data = Iota(6);
  int64_t shape[2] = {2, 3};
  int64_t compact_strides[2] = {3, 1};
  int64_t transposed_strides[2] = {1, 2};
  DLTensor t{};
  t.data = data.data();
  t.device = Device::Cpu().ToDL();
  t.ndim = 2;
  t.dtype = DataType::Float32().ToDL();
  t.shape = shape;
  t.strides = compact_strides;
  NDArray a = *NDArray::Empty({2, 3}, DataType::Float32(), Device::Cpu());
  ASSERT_TRUE(a.CopyFrom(&t).ok());
  EXPECT_EQ(a.data_as<float>()[4], 4.0f);
  t.strides = transposed_strides;
  EXPECT_EQ(a.CopyFrom(&t).code(), StatusCode::kUnimplemented);
  // byte_offset is honoured.
  t.strides = nullptr;
  int64_t one[1] = {3};
  t.ndim = 1;
  t.shape = one;
  t.byte_offset = 3 * sizeof(float);
  NDArray b = *NDArray::Empty({3}, DataType::Float32(), Device::Cpu());
  ASSERT_TRUE(b.CopyFrom(&t).ok());
  EXPECT_EQ(b.data_as<float>()[0], 3.0f);
}

TEST(NDArrayTest, CreateView) {
  NDArray a = *NDArray::Empty({2, 3}, DataType::Float32(), Device::Cpu());
  std::vector<float> in = Iota(6);
  ASSERT_TRUE(a.CopyFromBytes(in.data(), 24).ok());

  StatusOr<NDArray> flat = a.CreateView({6}, DataType::Float32());
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(flat->data(), a.data());
  EXPECT_EQ(flat->shape(), (std::vector<int64_t>{6}));
  EXPECT_EQ(flat->data_as<float>()[4], 4.0f);

  StatusOr<NDArray> smaller = a.CreateView({2}, DataType::Float32());
  ASSERT_TRUE(smaller.ok());
  EXPECT_EQ(smaller->NumElements(), 2);

  StatusOr<NDArray> bytes = a.CreateView({24}, DataType::UInt8());
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->NumBytes(), 24u);

  StatusOr<NDArray> too_big = a.CreateView({7}, DataType::Float32());
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(a.CreateView({25}, DataType::UInt8()).ok());
  EXPECT_FALSE(a.CreateView({-1}, DataType::UInt8()).ok());
  // count x itemsize must not wrap around: 2^62 float32 elements are 2^64 bytes, not 0.
  StatusOr<NDArray> wrapped = a.CreateView({int64_t{1} << 62}, DataType::Float32());
  ASSERT_FALSE(wrapped.ok()) << wrapped->ToString();
  EXPECT_EQ(wrapped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(a.CreateView({int64_t{1} << 61, 8}, DataType::UInt8()).ok());
  // A zero-width dtype would make any element count fit.
  StatusOr<NDArray> zero_width = a.CreateView({1000}, DataType{kDLFloat, 0, 1});
  ASSERT_FALSE(zero_width.ok());
  EXPECT_EQ(zero_width.status().code(), StatusCode::kInvalidArgument);

  // A view (and a view of a view) keeps the data alive after the original is gone.
  NDArray view_of_view;
  {
    NDArray owner = *NDArray::Empty({4}, DataType::Int32(), Device::Cpu());
    for (int i = 0; i < 4; ++i) owner.data_as<int32_t>()[i] = 10 + i;
    NDArray view = *owner.CreateView({2, 2}, DataType::Int32());
    view_of_view = *view.CreateView({4}, DataType::Int32());
  }
  EXPECT_EQ(view_of_view.data_as<int32_t>()[3], 13);
}

TEST(NDArrayTest, BorrowDoesNotOwn) {
  std::vector<int32_t> storage = {1, 2, 3, 4};
  {
    NDArray borrowed = NDArray::Borrow(storage.data(), {2, 2}, DataType::Int32(), Device::Cpu());
    EXPECT_EQ(borrowed.NumElements(), 4);
    EXPECT_EQ(borrowed.data(), storage.data());
    borrowed.data_as<int32_t>()[0] = 7;
  }
  EXPECT_EQ(storage[0], 7);  // still valid: the array did not free it
}

TEST(NDArrayTest, NullArray) {
  NDArray null;
  EXPECT_TRUE(null.is_null());
  EXPECT_EQ(null.ToString(), "NDArray(null)");
  EXPECT_THROW((void)null.shape(), CheckError);
}

TEST(NDArrayTest, UnsupportedDevice) {
  StatusOr<NDArray> a = NDArray::Empty({2}, DataType::Float32(), Device{kDLVulkan, 0});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kUnimplemented);
}

// ---- Value ----

class NamedModuleNode : public ModuleNode {
 public:
  NamedModuleNode(std::string type_key, std::map<std::string, PackedFunc> functions)
      : type_key_(std::move(type_key)), functions_(std::move(functions)) {}
  std::string type_key() const override { return type_key_; }
  std::optional<PackedFunc> GetFunction(const std::string& name) override {
    auto it = functions_.find(name);
    if (it == functions_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> ListFunctions() const override {
    std::vector<std::string> names;
    for (const auto& [name, f] : functions_) names.push_back(name);
    return names;
  }

 private:
  std::string type_key_;
  std::map<std::string, PackedFunc> functions_;
};

PackedFunc Constant(Value v) {
  return PackedFunc([v](std::span<const Value>) -> StatusOr<Value> { return v; });
}

TEST(ValueTest, KindsRoundTrip) {
  EXPECT_EQ(Value().kind(), Value::Kind::kNull);
  EXPECT_TRUE(Value(nullptr).is_null());

  Value b(true);
  EXPECT_EQ(b.kind(), Value::Kind::kBool);
  EXPECT_EQ(*b.As<bool>(), true);

  Value i(int64_t{1} << 40);
  EXPECT_EQ(i.kind(), Value::Kind::kInt);
  EXPECT_EQ(*i.As<int64_t>(), int64_t{1} << 40);
  EXPECT_EQ(Value(7).kind(), Value::Kind::kInt);
  EXPECT_EQ(Value(uint8_t{7}).kind(), Value::Kind::kInt);
  EXPECT_EQ(*Value(-3).As<int>(), -3);

  Value f(2.5);
  EXPECT_EQ(f.kind(), Value::Kind::kFloat);
  EXPECT_EQ(*f.As<double>(), 2.5);
  EXPECT_EQ(Value(1.5f).kind(), Value::Kind::kFloat);

  EXPECT_EQ(*Value("text").As<std::string>(), "text");
  EXPECT_EQ(*Value(std::string("s")).As<std::string>(), "s");
  EXPECT_EQ(*Value(std::string_view("sv")).As<std::string>(), "sv");
  EXPECT_EQ(Value("text").kind(), Value::Kind::kString);

  Value bytes(Bytes{std::string("\0\1\2", 3)});
  EXPECT_EQ(bytes.kind(), Value::Kind::kBytes);
  EXPECT_EQ(bytes.As<Bytes>()->data.size(), 3u);

  EXPECT_EQ(*Value(Device::Cuda(1)).As<Device>(), Device::Cuda(1));
  EXPECT_EQ(*Value(DataType::Int8()).As<DataType>(), DataType::Int8());

  NDArray array = *NDArray::Empty({1, 10}, DataType::Float32(), Device::Cpu());
  Value a(array);
  EXPECT_EQ(a.kind(), Value::Kind::kNDArray);
  EXPECT_TRUE(*a.As<NDArray>() == array);

  Module module(MakeObject<NamedModuleNode>("test", std::map<std::string, PackedFunc>{}));
  Value m(module);
  EXPECT_EQ(m.kind(), Value::Kind::kModule);
  EXPECT_TRUE(*m.As<Module>() == module);

  PackedFunc func = Constant(Value(1));
  Value p(func);
  EXPECT_EQ(p.kind(), Value::Kind::kPackedFunc);
  EXPECT_TRUE(*p.As<PackedFunc>() == func);

  EXPECT_EQ(Value(3), Value(int64_t{3}));
  EXPECT_FALSE(Value(3) == Value(3.0));
  EXPECT_FALSE(Value(true) == Value(1));
}

TEST(ValueTest, ToString) {
  EXPECT_EQ(Value().ToString(), "null");
  EXPECT_EQ(Value(true).ToString(), "bool true");
  EXPECT_EQ(Value(3).ToString(), "int 3");
  EXPECT_EQ(Value("hi").ToString(), "string \"hi\"");
  EXPECT_EQ(Value(Bytes{"abc"}).ToString(), "bytes (3 bytes)");
  EXPECT_EQ(Value(Device::Cpu()).ToString(), "Device cpu(0)");
  EXPECT_EQ(Value(DataType::Float32()).ToString(), "DataType float32");
  NDArray array = *NDArray::Empty({1, 10}, DataType::Float32(), Device::Cpu());
  EXPECT_EQ(Value(array).ToString(), "NDArray float32[1, 10] on cpu(0)");
  Module module(MakeObject<NamedModuleNode>("lib", std::map<std::string, PackedFunc>{}));
  EXPECT_EQ(Value(module).ToString(), "Module lib");
  EXPECT_EQ(Value(Module()).ToString(), "Module null");
  EXPECT_EQ(Value(Constant(Value())).ToString(), "PackedFunc");
}

TEST(ValueTest, KindMismatchAndConversions) {
  StatusOr<NDArray> wrong = Value(3).As<NDArray>();
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.status().message(), "expected NDArray but got int");

  EXPECT_EQ(Value("x").As<int64_t>().status().message(), "expected int but got string");
  EXPECT_EQ(Value(2.0).As<int>().status().message(), "expected int but got float");
  EXPECT_EQ(Value().As<double>().status().message(), "expected float but got null");
  EXPECT_EQ(Value(1).As<bool>().status().message(), "expected bool but got int");
  EXPECT_EQ(Value(true).As<int64_t>().status().message(), "expected int but got bool");
  EXPECT_EQ(Value("x").As<Bytes>().status().message(), "expected bytes but got string");
  EXPECT_EQ(Value(1).As<PackedFunc>().status().message(), "expected PackedFunc but got int");
  EXPECT_EQ(Value(1).As<Module>().status().message(), "expected Module but got int");
  EXPECT_EQ(Value(1).As<Device>().status().message(), "expected Device but got int");
  EXPECT_EQ(Value(1).As<DataType>().status().message(), "expected DataType but got int");

  // int -> double is the only implicit conversion.
  StatusOr<double> d = Value(3).As<double>();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, 3.0);

  StatusOr<int> big = Value(int64_t{1} << 40).As<int>();
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(), "integer 1099511627776 does not fit in int32");
}

TEST(ValueTest, ArgHelpers) {
  std::vector<Value> args = {Value(1), Value("x")};
  EXPECT_TRUE(CheckArgCount("f", args, 2).ok());
  EXPECT_EQ(CheckArgCount("f", args, 1).message(), "function 'f' expects 1 argument, got 2");
  EXPECT_EQ(CheckArgCount("f", args, 3).message(), "function 'f' expects 3 arguments, got 2");
  EXPECT_EQ(*GetArg<int64_t>("f", args, 0), 1);
  EXPECT_EQ(GetArg<NDArray>("f", args, 1).status().message(),
            "argument 1 of 'f': expected NDArray but got string");
  StatusOr<int> missing = GetArg<int>("f", args, 2);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValueKindName(Value::Kind::kDataType), "DataType");
}

// ---- PackedFunc ----

TEST(PackedFuncTest, CallWithArgs) {
  PackedFunc add([](std::span<const Value> args) -> StatusOr<Value> {
    RETURN_IF_ERROR(CheckArgCount("add", args, 2));
    ASSIGN_OR_RETURN(double a, GetArg<double>("add", args, 0));
    ASSIGN_OR_RETURN(double b, GetArg<double>("add", args, 1));
    return Value(a + b);
  });
  EXPECT_FALSE(add.is_null());

  StatusOr<Value> sum = add.Call(1, 2.5);
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(*sum->As<double>(), 3.5);
  EXPECT_EQ(*add(2, 3).As<double>(), 5.0);

  std::vector<Value> packed = {Value(1.0), Value(1.0)};
  EXPECT_EQ(*add.CallPacked(packed)->As<double>(), 2.0);

  StatusOr<Value> wrong = add.Call(1, "two");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(), "argument 1 of 'add': expected float but got string");
  StatusOr<Value> few = add.Call(1);
  EXPECT_EQ(few.status().message(), "function 'add' expects 2 arguments, got 1");
  EXPECT_THROW(add(1), StatusError);
}

TEST(PackedFuncTest, NoArgsAndObjects) {
  int calls = 0;
  PackedFunc counter([&calls](std::span<const Value> args) -> StatusOr<Value> {
    ++calls;
    return Value(static_cast<int64_t>(args.size()));
  });
  EXPECT_EQ(*counter.Call()->As<int64_t>(), 0);
  NDArray array = *NDArray::Empty({2}, DataType::Float32(), Device::Cpu());
  EXPECT_EQ(*counter.Call(array, Device::Cpu(), DataType::Int8(), nullptr)->As<int64_t>(), 4);
  EXPECT_EQ(calls, 2);

  PackedFunc identity([](std::span<const Value> args) -> StatusOr<Value> { return args[0]; });
  EXPECT_TRUE(*identity(array).As<NDArray>() == array);
  EXPECT_TRUE(*identity(counter).As<PackedFunc>() == counter);

  PackedFunc null;
  EXPECT_TRUE(null.is_null());
  EXPECT_THROW((void)null.Call(), CheckError);
}

// ---- Module ----

TEST(ModuleTest, GetFunctionAndImports) {
  Module leaf(MakeObject<NamedModuleNode>(
      "leaf", std::map<std::string, PackedFunc>{{"deep", Constant(Value(3))},
                                                {"shared", Constant(Value("leaf"))}}));
  Module middle(MakeObject<NamedModuleNode>(
      "middle", std::map<std::string, PackedFunc>{{"mid", Constant(Value(2))}}));
  middle->Import(leaf);
  Module root(MakeObject<NamedModuleNode>(
      "root", std::map<std::string, PackedFunc>{{"top", Constant(Value(1))},
                                                {"shared", Constant(Value("root"))}}));
  root->Import(middle);

  EXPECT_EQ(root.type_key(), "root");
  ASSERT_EQ(root.imports().size(), 1u);
  EXPECT_TRUE(root.imports()[0] == middle);
  EXPECT_EQ(root->ListFunctions(), (std::vector<std::string>{"shared", "top"}));

  EXPECT_EQ(*root.GetFunction("top")->Call()->As<int64_t>(), 1);
  // The module's own function wins over an import's.
  EXPECT_EQ(*root.GetFunction("shared", true)->Call()->As<std::string>(), "root");
  // Imports are searched only when asked, depth-first.
  StatusOr<PackedFunc> not_asked = root.GetFunction("deep");
  ASSERT_FALSE(not_asked.ok());
  EXPECT_EQ(not_asked.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(not_asked.status().message(), "module 'root' has no function 'deep'");
  EXPECT_EQ(*root.GetFunction("mid", true)->Call()->As<int64_t>(), 2);
  EXPECT_EQ(*root.GetFunction("deep", true)->Call()->As<int64_t>(), 3);

  StatusOr<PackedFunc> missing = root.GetFunction("nothing", true);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "module 'root' has no function 'nothing'");

  EXPECT_THROW(root->Import(Module()), CheckError);
}

TEST(ModuleTest, SaveToBinaryDefaultsToUnimplemented) {
  Module m(MakeObject<NamedModuleNode>("plain", std::map<std::string, PackedFunc>{}));
  StatusOr<std::string> saved = m->SaveToBinary();
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(saved.status().message(), "module of type 'plain' cannot be serialised");
}

TEST(ModuleTest, FunctionKeepsModuleAlive) {
  PackedFunc f;
  {
    Module m(MakeObject<NamedModuleNode>(
        "owner", std::map<std::string, PackedFunc>{{"f", Constant(Value(9))}}));
    f = *m.GetFunction("f");
  }
  EXPECT_EQ(*f.Call()->As<int64_t>(), 9);
}

// ---- FunctionRegistry ----

TEST(FunctionRegistryTest, RegisterGetRemoveList) {
  FunctionRegistry registry;
  EXPECT_TRUE(registry.ListNames().empty());
  ASSERT_TRUE(registry.Register("ferry.b", Constant(Value(2))).ok());
  ASSERT_TRUE(registry.Register("ferry.a", Constant(Value(1))).ok());
  EXPECT_EQ(registry.ListNames(), (std::vector<std::string>{"ferry.a", "ferry.b"}));
  EXPECT_EQ(*registry.Get("ferry.a")->Call()->As<int64_t>(), 1);

  Status dup = registry.Register("ferry.a", Constant(Value(3)));
  EXPECT_EQ(dup.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dup.message(), "function 'ferry.a' is already registered");
  EXPECT_EQ(*registry.Get("ferry.a")->Call()->As<int64_t>(), 1);
  ASSERT_TRUE(registry.Register("ferry.a", Constant(Value(3)), /*allow_override=*/true).ok());
  EXPECT_EQ(*registry.Get("ferry.a")->Call()->As<int64_t>(), 3);

  EXPECT_EQ(registry.Register("", Constant(Value())).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("null", PackedFunc()).code(), StatusCode::kInvalidArgument);

  StatusOr<PackedFunc> missing = registry.Get("ferry.c");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no global function 'ferry.c'");

  EXPECT_TRUE(registry.Remove("ferry.a"));
  EXPECT_FALSE(registry.Remove("ferry.a"));
  EXPECT_EQ(registry.Get("ferry.a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry.ListNames(), (std::vector<std::string>{"ferry.b"}));
}

}  // namespace
}  // namespace ferry
