//! Writing XML with quick-xml (never used to read signed input): a thin helper so message
//! builders read like the documents they produce. Text and attribute values are escaped by
//! quick-xml.

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

pub(crate) struct Xml {
    writer: Writer<Vec<u8>>,
}

impl Xml {
    pub(crate) fn new() -> Xml {
        Xml {
            writer: Writer::new(Vec::new()),
        }
    }

    /// Opens `name` with `attrs` (attributes whose value is `None` are left out).
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, Option<&str>)]) -> &mut Xml {
        let start = BytesStart::new(name)
            .with_attributes(attrs.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        self.write(Event::Start(start))
    }

    pub(crate) fn close(&mut self, name: &str) -> &mut Xml {
        self.write(Event::End(BytesEnd::new(name)))
    }

    /// An element with no content.
    pub(crate) fn empty(&mut self, name: &str, attrs: &[(&str, Option<&str>)]) -> &mut Xml {
        let start = BytesStart::new(name)
            .with_attributes(attrs.iter().filter_map(|(k, v)| v.map(|v| (*k, v))));
        self.write(Event::Empty(start))
    }

    /// An element holding `text`.
    pub(crate) fn leaf(
        &mut self,
        name: &str,
        attrs: &[(&str, Option<&str>)],
        text: &str,
    ) -> &mut Xml {
        self.open(name, attrs);
        self.write(Event::Text(BytesText::new(text)));
        self.close(name)
    }

    fn write(&mut self, event: Event<'_>) -> &mut Xml {
        // Writing to a Vec cannot fail.
        self.writer
            .write_event(event)
            .expect("writing XML to memory");
        self
    }

    pub(crate) fn finish(self) -> String {
        String::from_utf8(self.writer.into_inner()).expect("quick-xml writes UTF-8")
    }
}
