"""Extended vocabulary: tied and untied output matrices, logit mask, VRT ids, attention kernels."""

from __future__ import annotations

import pytest
import torch
from PIL import Image, ImageDraw

from padt_eval.models.padt.checkpoint import build_model, resolve
from padt_eval.models.padt.generation import GenerationSettings, generate
from padt_eval.models.padt.processor import PadtProcessor
from padt_eval.models.padt.tokenizer import PadtTokenizer
from padt_eval.models.padt.vocab import logit_mask, to_global, to_local


def _image(w: int, h: int, colour) -> Image.Image:
    im = Image.new("RGB", (w, h), (90, 90, 90))
    ImageDraw.Draw(im).rectangle([w // 5, h // 4, w // 2, h // 2], fill=colour)
    return im


def _prefill(folder):
    model, _ = build_model(resolve(str(folder)))
    tok = PadtTokenizer.from_folder(folder)
    tok.prepare(model.cfg.vocab_size)
    proc = PadtProcessor.from_folder(folder, tok, model.cfg.merge_size)
    imgs = [proc.prepare_image(_image(120, 90, (200, 30, 30))), proc.prepare_image(_image(70, 100, (30, 30, 200)))]
    inputs = proc.batch(imgs, ["Please describe this image.", 'Please carefully check the image and detect: "x".'])
    vis, protos = model.encode_images(inputs.pixel_values, inputs.image_grid_thw)
    vocab = model.extended_vocab(protos, inputs.image_grid_thw)
    settings = GenerationSettings.from_checkpoint(folder, max_new_tokens=3)
    res = generate(
        model,
        vocab,
        vis.merged,
        inputs.input_ids,
        inputs.attention_mask,
        inputs.image_grid_thw,
        settings,
        keep_prompt_hidden=True,
        record_logits=True,
    )
    return model, inputs, protos, vocab, res


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_logits_use_the_right_output_matrix(tied, tiny_checkpoint, tiny_tied_checkpoint):
    model, inputs, protos, vocab, res = _prefill(tiny_tied_checkpoint if tied else tiny_checkpoint)
    e = model.cfg.vocab_size
    h = res.prompt_hidden[:, -1]  # the state that produced the first token
    logits = res.step_logits[:, 0]
    text_rows = model.language_model.embed_tokens.weight if tied else model.lm_head.weight
    if tied:
        assert model.lm_head is None
        assert vocab.out_text.data_ptr() == vocab.embed.data_ptr()  # prototypes join the shared matrix
    else:
        assert not torch.equal(model.lm_head.weight, model.language_model.embed_tokens.weight)
    torch.testing.assert_close(logits[:, :e], h @ text_rows.T, atol=1e-4, rtol=1e-5)
    mask = logit_mask(inputs.image_grid_thw, 2, e)
    full_vrt = h @ protos.T
    assert torch.isinf(logits[:, e:][~mask[:, e:]]).all()
    torch.testing.assert_close(logits[:, e:][mask[:, e:]], full_vrt[mask[:, e:]], atol=1e-4, rtol=1e-5)
    # a VRT fed back is embedded as its prototype
    ids = torch.tensor([[e + 3]])
    torch.testing.assert_close(vocab.embed_ids(ids)[0, 0], protos[3])


def test_global_local_ids_and_mask():
    grid = torch.tensor([[1, 6, 8], [1, 6, 10]])  # 12 and 15 merged tokens
    e = 480
    local = torch.tensor([[5, e + 0, e + 11], [e + 14, 7, e + 2]])
    glob = to_global(local, grid, 2, e)
    assert glob.tolist() == [[5, e, e + 11], [e + 12 + 14, 7, e + 12 + 2]]
    assert torch.equal(to_local(glob, grid, 2, e), local)
    mask = logit_mask(grid, 2, e)
    assert mask.shape == (2, e + 27)
    assert mask[:, :e].all()
    assert mask[0, e : e + 12].all() and not mask[0, e + 12 :].any()
    assert mask[1, e + 12 :].all() and not mask[1, e : e + 12].any()


def test_vrt_tokens_follow_the_embedding_rows(tiny_checkpoint):
    model, _ = build_model(resolve(str(tiny_checkpoint)))
    tok = PadtTokenizer.from_folder(tiny_checkpoint)
    n_text = len(tok)
    tok.prepare(model.cfg.vocab_size)
    assert len(tok) == model.cfg.vocab_size > n_text
    assert tok.token_strings([n_text]) == ["<|empty_token_0|>"]
    tok.ensure_vrts(5)
    tok.ensure_vrts(3)  # never shrinks, never duplicates
    assert tok.num_vrts == 5
    assert tok.encode("a <|VRT_4|><|VRT_0|>")[-2:] == [model.cfg.vocab_size + 4, model.cfg.vocab_size]
    assert tok.token_strings([model.cfg.vocab_size + 9]) == [""]  # not added yet (reference behaviour)


def test_decoder_attention_kernels_agree():
    from padt_eval.models.padt.attention import varlen_attention

    g = torch.Generator().manual_seed(0)
    cu_q = torch.tensor([0, 4, 11, 14], dtype=torch.int32)
    cu_k = torch.tensor([0, 20, 25, 60], dtype=torch.int32)
    q = torch.randn(14, 2, 16, generator=g)
    k = torch.randn(60, 2, 16, generator=g)
    v = torch.randn(60, 2, 16, generator=g)
    eager = varlen_attention(q, k, v, cu_q, cu_k, "eager")
    sdpa = varlen_attention(q, k, v, cu_q, cu_k, "sdpa")
    torch.testing.assert_close(sdpa, eager, atol=1e-6, rtol=1e-5)
    # segments really are separate: changing object 0's keys leaves object 1 alone
    k2 = k.clone()
    k2[:20] += 1
    again = varlen_attention(q, k2, v, cu_q, cu_k, "sdpa")
    torch.testing.assert_close(again[4:], sdpa[4:])
    assert not torch.allclose(again[:4], sdpa[:4])


def test_each_row_must_hold_its_own_image(tiny_checkpoint):
    model, inputs, protos, vocab, _ = _prefill(tiny_checkpoint)
    swapped = inputs.input_ids.flip(0)  # row 0 now holds image 1's placeholders
    if int((swapped[0] == model.cfg.image_token_id).sum()) == int((inputs.input_ids[0] == model.cfg.image_token_id).sum()):
        pytest.skip("both images have the same number of merged tokens")
    vis, _ = model.encode_images(inputs.pixel_values, inputs.image_grid_thw)
    with pytest.raises(ValueError, match="exactly one image per batch row"):
        model.prompt_embeds(swapped, vocab, vis.merged)
