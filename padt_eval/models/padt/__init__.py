"""Our own PaDT (Patch-as-Decodable-Token) inference on current transformers.

PaDT is a Qwen2.5-VL model that answers with Visual Reference Tokens (VRTs); a small
decoder turns each run of VRTs into a box, a score and a mask. This package re-implements
the public reference (Gorilla-Lab-SCUT/PaDT at 912a8ae, written for transformers 4.50) on
the installed transformers 5.x, and is checked against the golden fixture in
`shared/fixtures/padt_tiny/` stage by stage (see tests/models/padt/).

Modules, each with one job:

  config       checkpoint config.json -> stock Qwen2.5-VL sub-configs + PaDT extras
  checkpoint   find the weight files (folder or hub id), map legacy key names, refuse misfits
  vision       vision tower forward that also returns pre-merge states and rotary tables
  vocab        prototype projection, extended vocabulary, logit mask, global/local VRT ids
  rope         3-axis M-RoPE position ids with the reference's (4.50) padding semantics
  tokenizer    offline tokenizer + chat template + `<|empty_token_k|>`/`<|VRT_i|>` handling
  processor    images + prompts -> padded model inputs
  model        the nn.Module tree (stock vision tower and text model + PaDT parts)
  generation   our decoding loop (VRT feedback, repetition penalty, last-layer states only)
  parsing      completion tokens -> objects (default and reference-compatible modes)
  attention    non-causal variable-length attention + rotary for the decoder
  decoder      the PaDT decoder (boxes, scores, mask logits)
  postprocess  decoder outputs -> canonical boxes, scores, COCO RLE
  pipeline     one batch end to end, and teacher forcing
  adapter      `PadtAdapter` / `load_padt` (the padt-eval model interface)
  family       registers the "padt" model family without importing torch
  tiny         `build_tiny_padt`: a complete random tiny checkpoint built offline

Nothing in this package imports torch at import time; `family` is safe to import anywhere.
"""

IMPLEMENTATION_VERSION = "padt-eval-padt/1.0"
