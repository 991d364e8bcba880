#include "model/linear.h"

#include "backend/ops.h"
#include "core/error.h"

namespace llmtune::model {

namespace {

int64_t rows_of(const Tensor& x) {
  return x.numel() / x.size(-1);
}

// x itself, or a dropped-out copy when a key is given.
Tensor lora_input(const Tensor& x, const LoraWeights& l, const DropoutKey* key) {
  if (key == nullptr || l.dropout == 0.0f) return x;
  Tensor xd = Tensor::empty(x.shape(), DType::F32, x.device());
  ops::dropout(xd, x, l.dropout, key->seed, key->stream);
  return xd;
}

void add_delta(Linear& lin, float sign) {
  LLMTUNE_CHECK(lin.lora.has_value(), "merge without an adapter on ", lin.name);
  const LoraWeights& l = *lin.lora;
  Tensor delta = Tensor::empty({lin.out, lin.in}, DType::F32, lin.weight.device());
  ops::gemm(delta, l.b, false, l.a, false, sign * l.scale, 0.0f);
  if (lin.weight.dtype() == DType::F32) {
    ops::add(lin.weight, delta);
  } else {  // widen, add, round back: as PEFT merges into a bf16 weight
    Tensor w = Tensor::empty(lin.weight.shape(), DType::F32, lin.weight.device());
    ops::convert(w, lin.weight);
    ops::add(w, delta);
    ops::convert(lin.weight, w);
  }
}

}  // namespace

void Linear::forward(Tensor& y, const Tensor& x, bool accumulate, LinearSaved* saved,
                     const DropoutKey* dropout) const {
  const int64_t n = rows_of(x);
  Tensor x2 = x.view({n, in});
  Tensor y2 = y.view({n, out});
  ops::gemm(y2, x2, false, weight, true, 1.0f, accumulate ? 1.0f : 0.0f);
  if (!lora_active()) return;
  const LoraWeights& l = *lora;
  Tensor u = Tensor::empty({n, l.a.size(0)}, DType::F32, x.device());
  ops::gemm(u, lora_input(x2, l, dropout), false, l.a, true);
  ops::gemm(y2, u, false, l.b, true, l.scale, 1.0f);
  if (saved) saved->lora_u = u;
}

void Linear::backward(Tensor* dx, bool accumulate, const Tensor& dy, const Tensor& x,
                      const LinearSaved& saved, const DropoutKey* dropout) {
  const int64_t n = rows_of(dy);
  const Tensor dy2 = dy.view({n, out});
  if (trains) {
    LLMTUNE_CHECK(grad.defined(), "backward through ", name, " without its gradient buffer");
    ops::gemm(grad, dy2, true, x.view({n, in}), false, 1.0f, 1.0f);
  }
  Tensor dx2;
  if (dx) {
    dx2 = dx->view({n, in});
    ops::gemm(dx2, dy2, false, weight, false, 1.0f, accumulate ? 1.0f : 0.0f);
  }
  if (!lora_active()) return;
  LoraWeights& l = *lora;
  LLMTUNE_CHECK(saved.lora_u.defined(), "backward through ", name, " without its forward state");
  const int64_t r = l.a.size(0);
  Tensor du = Tensor::empty({n, r}, DType::F32, dy.device());  // s · dy B
  ops::gemm(du, dy2, false, l.b, false, l.scale, 0.0f);
  if (l.trains) {
    LLMTUNE_CHECK(l.grad_a.defined() && l.grad_b.defined(), "backward through ", name,
                  " without its adapter's gradient buffers");
    ops::gemm(l.grad_b, dy2, true, saved.lora_u, false, l.scale, 1.0f);
    ops::gemm(l.grad_a, du, true, lora_input(x.view({n, in}), l, dropout), false, 1.0f, 1.0f);
  }
  if (!dx) return;
  if (dropout == nullptr || l.dropout == 0.0f) {
    ops::gemm(dx2, du, false, l.a, false, 1.0f, 1.0f);
  } else {  // d dropout(x) / dx is the same mask and scale
    Tensor dxd = Tensor::empty({n, in}, DType::F32, dy.device());
    ops::gemm(dxd, du, false, l.a, false);
    ops::dropout(dxd, dxd, l.dropout, dropout->seed, dropout->stream);
    ops::add(dx2, dxd);
  }
}

void Linear::merge_lora() {
  LLMTUNE_CHECK(!merged, name, " is already merged");
  add_delta(*this, 1.0f);
  merged = true;
}

void Linear::unmerge_lora() {
  LLMTUNE_CHECK(merged, name, " is not merged");
  add_delta(*this, -1.0f);
  merged = false;
}

}  // namespace llmtune::model
