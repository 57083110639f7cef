

def test_strength_scales_every_range():
    from chestview.engine.data.augment import AugmentConfig

    base = AugmentConfig()
    strong = base.scaled(2.0)
    assert strong.max_rotation_deg == 2 * base.max_rotation_deg and strong.max_scale == 2 * base.max_scale
    assert strong.max_translate == 2 * base.max_translate and strong.brightness == 2 * base.brightness
    assert strong.contrast == 2 * base.contrast and strong.hflip == base.hflip
    assert base.scaled(0.0).max_rotation_deg == 0.0
