import { FLOAT32_TOLERANCES, goldenSuite } from './golden'

// The golden fixtures (logits, loss and the gradient of every weight of GPT-2 and the Llama family,
// against PyTorch in float64) on the webgpu backend, run on SwiftShader in CI.
//
// Tolerances: the same float32 ones as cpu and wasm (logits 1e-4 absolute, loss 1e-5, gradients
// 1e-4 relative to the tensor's norm). Measured on SwiftShader 5.0.0 (Dawn in `webgpu` 0.6.2,
// 2026-11-30): the largest logit difference over all ten fixtures was 8.1e-6 (llama-linear-rope)
// and the largest loss difference 4.1e-7 (qwen2). SwiftShader does
// its float32 arithmetic on the CPU, to IEEE float32, so these differences are those of summation
// order in tfjs's WGSL kernels; a hardware GPU's exp, log and tanh are less exact (WGSL allows a
// few ulp), which the 10× headroom leaves room for.
goldenSuite('webgpu', FLOAT32_TOLERANCES, (tf) => {
  // tfjs runs a kernel on the cpu backend instead when its inputs are small and not yet on the
  // GPU; the fixtures are tiny, so without this some kernels would never run on the GPU.
  tf.env().set('WEBGPU_CPU_FORWARD', false)
})
