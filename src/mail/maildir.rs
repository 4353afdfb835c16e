//! Maildir delivery (`DIR/{tmp,new,cur}`) as mutt, neomutt and mblaze read it. (Stub: being
//! built with `postie pop3 pull`.)
