import { goldenSuite } from './golden'

// Logits, loss and every gradient of the golden fixtures against the PyTorch reference (see
// golden.ts), within float32 tolerances, on the two backends every machine has.
goldenSuite('cpu')
goldenSuite('wasm')
