"""Our own PaDT (Patch-as-Decodable-Token) inference on current transformers.

PaDT is a Qwen2.5-VL model that answers with Visual Reference Tokens (VRTs); a small
decoder turns each run of VRTs into a box, a score and a mask. This package re-implements
the public reference (Gorilla-Lab-SCUT/PaDT at 912a8ae, written for transformers 4.50) on
the installed transformers 5.x, and is checked against the golden fixture in
`tests/fixtures/padt_tiny/` stage by stage (see tests/models/padt/).

Modules, each with one job:

  config       checkpoint config.json -> stock Qwen2.5-VL sub-configs + PaDT extras
  checkpoint   find the weight files (folder or hub id), map legacy key names, refuse misfits
  vision       vision tower forward that also returns pre-merge states and rotary tables
  vocab        prototype projection, extended vocabulary, logit mask, global/local VRT ids
  rope         3-axis M-RoPE position ids with the reference's (4.50) padding semantics
  tokenizer    offline tokenizer + chat template + `<|empty_token_k|>`/`<|VRT_i|>` handling
  processor    images + prompts -> padded model inputs
  host_meta    grid- and prompt-derived index tensors, computed on the host once per batch
  model        the nn.Module tree (stock vision tower and text model + PaDT parts)
  generation   our decoding loop (VRT feedback, repetition penalty, last-layer states only)
  slots        continuous batching's fixed-shape step: per-row positions, per-slot prototypes
  continuous   continuous batching's host loop: admit into free slots, harvest ended samples
  parsing      completion tokens -> objects (default and reference-compatible modes)
  attention    non-causal variable-length attention + rotary for the decoder
  decoder      the PaDT decoder (boxes, scores, mask logits)
  postprocess  decoder outputs -> canonical boxes, scores, COCO RLE
<<<<<<< HEAD
  batch_run    what a batch run keeps (encoded images, every intermediate)
  pipeline     one batch end to end, teacher forcing, and a stream of samples (continuous)
  stream       the runner's batches through continuous batching, handed back in order
=======
  pipeline     one batch end to end (teacher forcing: padt_eval.testing.teacher_force)
>>>>>>> main
  adapter      `PadtAdapter` / `load_padt` (the padt-eval model interface)
  family       registers the "padt" model family without importing torch
  tiny         `build_tiny_padt`: a complete random tiny checkpoint built offline
  fake_run     the device path on fake CUDA from a config.json alone (`models.fake_device`)

Nothing in this package imports torch at import time; `family` is safe to import anywhere.

Deliberate departures from the reference (numbers refer to the spec's section 12):

Always (they change nothing the fixture can see):
  * (7) the decoder's attention runs without flash-attn: packed per-object segments through
    SDPA with a key-padding mask (or flash-attn's varlen kernel when installed, fp16/bf16 on
    CUDA); rotary applied with the same rotate-half formula in float32.
  * (8) decoding keeps only the final layer's state per step and scores only the last
    position; the reference keeps every layer at every step and all prompt positions.
  * (4) the low-res slice and the prototype lookup use m^2 instead of a hard-coded 4
    (identical for every released config, m = 2).
  * (10) the decoder has no construction-time dtype: casting the model is safe.
  * (6) a batch row must own exactly one image (checked); no text-only or video path.
  * (15) VRT tokens are added lazily per batch as in the reference (same ids); decoding
    uses the batch's own VRT range, which the logit mask guarantees.
  * images under 28 px are not pre-upscaled by hand (the processor resizes them); boxes
    stay in the original image's pixels (the reference reported the upscaled ones).
  * an unreadable image is that sample's ERROR, not a crash.
Reproduced on purpose (the weights were trained with them, or the protocol depends on them):
  window-order/raster-order pairing in the decoder (1), the logit mask allowing the
  `<|empty_token_k|>` rows (11), the repetition penalty on the extended vocabulary and on
  prompt tokens (12), per-object copies of the image memory (9).
Default mode only (`compat=False`; `compat=True` reproduces the reference exactly):
  * parsing: see `parsing` (no silent whole-sample drop (2), eos = any generation eos id,
    truncated runs kept and flagged, id-based VRT detection, in-token quotes, stripped
    labels (13)), and the first-step feature is one row, not the prompt block (3);
  * boxes: float xyxy clipped to the image instead of rounded [x, y, w, h] whose right and
    bottom edges are not clamped (14); masks are resized in float32.
  * generation: left padding is not counted by the repetition penalty. The reference (and
    stock `generate`) counts it, and since the pad token `<|endoftext|>` is also an eos id,
    a padded row is penalised for stopping there: greedy outputs then depend on what else
    is in the batch (measured on the tiny model: 8 of 48 completions change between batch
    1 and batch 8 in compat mode, none in default mode).
"""

IMPLEMENTATION_VERSION = "padt-eval-padt/1.0"
