"""The `model` and `baseline` sections: where a model's logits come from.

Both take the same forms, checked by the same code (`parse_model`), so a
baseline is refused for exactly what a candidate would be, with the key
path naming its own section (`baseline.logits.tags`): a parsed feature per
head (`logits`), or a SavedModel/.keras run on the workers (`saved_model`,
`output`, `signature`, `device`, `batch_size`).
"""
from pipeline.config.spec import (DEFAULT_SIGNATURE, MODEL_KEYS, SAVED_MODEL_KEYS, ModelConfig,
                                  logits_check)
from pipeline.runtime.devices import DEFAULT_DEVICE, DEVICES


def parse_model(parser, data, key, heads, features, transform) -> ModelConfig:
    """`data` (the YAML mapping at `key`: "model" or "baseline") -> a
    ModelConfig; `parser` is the config's `_Parser` (its checks and error
    messages), `heads` the parsed HeadConfigs. Raises ConfigError."""
    parser.mapping(data, key, MODEL_KEYS)
    has_logits, has_model = data.get("logits") is not None, data.get("saved_model") is not None
    if has_logits == has_model:
        parser.fail(key, "exactly one of `logits` (a parsed feature) or `saved_model`", data)
    names = [h.name for h in heads]
    named = sorted(n for n in names if n is not None)
    if has_logits:
        for k in SAVED_MODEL_KEYS:
            if data.get(k) is not None:
                parser.fail("%s.%s" % (key, k), "absent when the logits are a parsed feature "
                            "(it applies to saved_model)", data[k])
        logits = data["logits"]
        if isinstance(logits, dict):
            if sorted(logits, key=str) != named or None in names:
                parser.fail(key + ".logits", "{head name: feature} with one entry per head "
                            "(%s); name every head" % ", ".join(str(n) for n in names), logits)
            head_by_name = {h.name: h for h in heads}
            logits = {k: parser.feature_ref(v, "%s.logits.%s" % (key, k), features, transform,
                                            logits_check(head_by_name[k].logits_dimension))
                      for k, v in logits.items()}
        else:
            total = sum(h.logits_dimension for h in heads)
            logits = parser.feature_ref(logits, key + ".logits", features, transform,
                                        logits_check(total))
        return ModelConfig(logits=logits)
    saved_model = parser.path(data["saved_model"], key + ".saved_model")
    output = data.get("output")
    if isinstance(output, dict):
        if sorted(output, key=str) != named or None in names:
            parser.fail(key + ".output", "{head name: model output} with one entry per head",
                        output)
        for k, v in output.items():
            parser.string(v, "%s.output.%s" % (key, k), what="a model output name")
    elif output is not None:
        parser.string(output, key + ".output",
                      what="a model output name or {head name: output}")
    signature = parser.string(data.get("signature", DEFAULT_SIGNATURE), key + ".signature")
    device = parser.string(data.get("device", DEFAULT_DEVICE), key + ".device", DEVICES)
    batch_size = None
    if data.get("batch_size") is not None:
        batch_size = parser.integer(data["batch_size"], key + ".batch_size")
    return ModelConfig(saved_model=saved_model, output=output, signature=signature,
                       device=device, batch_size=batch_size)
