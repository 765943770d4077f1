//! What the speaker plays when several streams speak at once: talkgroups
//! heard together, a call, the ring tone.
//!
//! The rule: everything is mixed (summed, clipped to 16 bits), except that
//! while any stream carries an emergency burst (a mayday, or an emergency
//! press) only the emergency streams are heard. Mixing keeps a member who
//! monitors two talkgroups aware of both, as scanning radios do; but a
//! mayday mixed at equal level with routine traffic is a mayday half
//! understood, and it is rare and short, so for its length it plays alone.

use super::FRAME_SAMPLES;

/// One stream's frame for this slot.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub pcm: &'a [i16; FRAME_SAMPLES],
    /// An emergency burst: silences the others while it lasts.
    pub emergency: bool,
}

/// The frame the speaker plays for these inputs.
pub fn mix(inputs: &[Input<'_>]) -> [i16; FRAME_SAMPLES] {
    let urgent = inputs.iter().any(|i| i.emergency);
    let mut acc = [0i32; FRAME_SAMPLES];
    for i in inputs.iter().filter(|i| i.emergency || !urgent) {
        for (a, &s) in acc.iter_mut().zip(i.pcm.iter()) {
            *a += i32::from(s);
        }
    }
    let mut out = [0i16; FRAME_SAMPLES];
    for (o, a) in out.iter_mut().zip(acc) {
        *o = a.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: i16) -> [i16; FRAME_SAMPLES] {
        [v; FRAME_SAMPLES]
    }

    #[test]
    fn streams_are_summed_and_clipped() {
        let (a, b, c) = (frame(1_000), frame(-300), frame(32_000));
        let i = |pcm| Input {
            pcm,
            emergency: false,
        };
        assert_eq!(mix(&[i(&a), i(&b)])[0], 700);
        assert_eq!(mix(&[i(&a), i(&c)])[7], i16::MAX);
        assert_eq!(mix(&[])[0], 0);
    }

    #[test]
    fn an_emergency_burst_plays_alone() {
        let (routine, mayday, other) = (frame(1_000), frame(50), frame(7));
        let out = mix(&[
            Input {
                pcm: &routine,
                emergency: false,
            },
            Input {
                pcm: &mayday,
                emergency: true,
            },
            Input {
                pcm: &other,
                emergency: true,
            },
        ]);
        assert_eq!(out[0], 57, "only the emergency streams, mixed");
    }
}
