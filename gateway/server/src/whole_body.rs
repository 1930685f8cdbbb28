//! A body read to its end within a bound: the IdP's request body
//! ([`crate::proxy::body::read`]) and the upstream's answer alike, each
//! frame taken as it comes, without a collecting combinator around it.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

/// Why a body was not read whole.
#[derive(Debug)]
pub enum Unread<E> {
    /// Its data passed the bound.
    TooLarge,
    /// It failed before its end.
    Broken(E),
}

/// The body read to its end: refused once its data passes `max` bytes;
/// one chunk (the usual body) as it came, more joined in one buffer.
/// Trailers are not kept.
pub async fn read<B>(body: B, max: usize) -> Result<Bytes, Unread<B::Error>>
where
    B: hyper::body::Body<Data = Bytes>,
{
    let mut body = std::pin::pin!(body);
    let (mut first, mut joined) = (None::<Bytes>, None::<BytesMut>);
    let mut len = 0_usize;
    while let Some(frame) = body.frame().await {
        let Some(data) = frame.map_err(Unread::Broken)?.into_data().ok().filter(|d| !d.is_empty()) else {
            continue;
        };
        len = len.checked_add(data.len()).filter(|&n| n <= max).ok_or(Unread::TooLarge)?;
        if let Some(all) = &mut joined {
            all.extend_from_slice(&data);
        } else if let Some(one) = first.take() {
            let mut all = BytesMut::with_capacity(one.len() + data.len());
            all.extend_from_slice(&one);
            all.extend_from_slice(&data);
            joined = Some(all);
        } else {
            first = Some(data);
        }
    }
    Ok(joined.map_or_else(|| first.unwrap_or_default(), BytesMut::freeze))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Frame;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body of given frames, a data frame or trailers or an error each.
    struct Frames(VecDeque<Result<Frame<Bytes>, std::io::Error>>);

    impl hyper::body::Body for Frames {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    fn data(parts: &[&'static str]) -> Frames {
        Frames(parts.iter().map(|p| Ok(Frame::data(Bytes::from_static(p.as_bytes())))).collect())
    }

    #[tokio::test]
    async fn a_body_is_read_whole_in_one_piece_or_joined_and_refused_past_its_bound() {
        assert_eq!(read(data(&[]), 4).await.unwrap(), "");
        static CHUNK: &str = "abcd";
        let one = read(data(&["", CHUNK, ""]), 4).await.unwrap();
        assert_eq!(one, CHUNK, "exactly the bound");
        assert_eq!(one.as_ptr(), CHUNK.as_ptr(), "one chunk (empty ones aside) is taken as it came, not copied");
        assert_eq!(read(data(&["ab", "", "c", "d"]), 4).await.unwrap(), "abcd");
        assert!(matches!(read(data(&["abcde"]), 4).await, Err(Unread::TooLarge)));
        assert!(matches!(read(data(&["abc", "de"]), 4).await, Err(Unread::TooLarge)));
        let mut trailers = data(&["ab", "cd"]);
        trailers.0.push_back(Ok(Frame::trailers(http::HeaderMap::new())));
        assert_eq!(read(trailers, 4).await.unwrap(), "abcd", "trailers are no data");
        let mut broken = data(&["ab"]);
        broken.0.push_back(Err(std::io::Error::other("reset by peer")));
        assert!(matches!(read(broken, 4).await, Err(Unread::Broken(e)) if e.to_string() == "reset by peer"));
    }
}
