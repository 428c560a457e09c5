// Package extract groups Kiln's document extractors, which turn what a user
// hands in (a web page, a PDF) into clean text, Markdown and metadata for a
// post or a knowledge-base document. Each format has its own subpackage;
// textmetric measures how close an extraction comes to a reference.
package extract
